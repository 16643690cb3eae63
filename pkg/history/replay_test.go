package history

import (
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
)

func TestGapCheck(t *testing.T) {
	cases := []struct {
		name string
		g    gapCheck
		ok   bool
	}{
		{"message at since still kept", gapCheck{since: 50, count: 100, perSubj: 100, keptBefore: true, streamFirst: 40}, true},
		{"fresh, nothing ever dropped", gapCheck{since: 0, count: 3, perSubj: 100, streamFirst: 1}, true},
		{"fresh, stream aged out", gapCheck{since: 0, count: 3, perSubj: 100, streamFirst: 7}, false},
		{"room at its limit after since", gapCheck{since: 10, count: 100, perSubj: 100, streamFirst: 1}, false},
		{"since's message dropped, stream moved on", gapCheck{since: 10, count: 5, perSubj: 100, streamFirst: 30}, false},
		{"since's message of another room, nothing dropped", gapCheck{since: 10, count: 5, perSubj: 100, streamFirst: 11}, true},
	}
	for _, c := range cases {
		if got := c.g.complete(); got != c.ok {
			t.Errorf("%s: complete() = %v", c.name, got)
		}
	}
}

func TestTrim(t *testing.T) {
	now := time.Now()
	var kept []timed
	for i := range 5 {
		kept = append(kept, timed{app.Kept{Position: app.Position{Offset: uint64(i + 1)}}, now.Add(time.Duration(i-5) * time.Minute)})
	}
	out, cut := trim(kept, Rule{Count: 10, Age: time.Hour}, now)
	if len(out) != 5 || cut {
		t.Errorf("all fit: %d %v", len(out), cut)
	}
	out, cut = trim(kept, Rule{Count: 2, Age: time.Hour}, now)
	if len(out) != 2 || !cut || out[0].Offset != 4 {
		t.Errorf("count 2: %v %v", out, cut)
	}
	out, cut = trim(kept, Rule{Count: 10, Age: 150 * time.Second}, now)
	if len(out) != 2 || !cut || out[0].Offset != 4 {
		t.Errorf("age: %v %v", out, cut)
	}
}
