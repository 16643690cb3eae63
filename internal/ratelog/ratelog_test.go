package ratelog

import (
	"testing"
	"time"
)

// TestLimiter: at most Burst lines in one second, the rest counted and
// reported with the first line of a later second.
func TestLimiter(t *testing.T) {
	for _, burst := range []int{0, 1, 10} {
		l := Limiter{Burst: burst}
		now := time.Unix(1000, 0)
		logged := 0
		for range 1000 {
			if ok, _ := l.Allow(now); ok {
				logged++
			}
		}
		if want := max(burst, 1); logged != want {
			t.Fatalf("burst %d: %d lines in one second, want %d", burst, logged, want)
		}
		ok, dropped := l.Allow(now.Add(time.Second))
		if want := 1000 - max(burst, 1); !ok || dropped != want {
			t.Fatalf("burst %d: next second: %v, %d dropped; want true, %d", burst, ok, dropped, want)
		}
	}
}
