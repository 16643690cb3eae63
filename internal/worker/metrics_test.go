package worker

import (
	"testing"
	"time"
)

func TestLatencyBuckets(t *testing.T) {
	var l latency
	now := time.Now()
	l.observe(now.Add(-3 * time.Millisecond)) // (2.5 ms, 5 ms]
	l.observe(now.Add(time.Hour))             // another host's clock ahead: 0
	l.observe(now.Add(-time.Minute))          // past the last bound: +Inf
	h := l.snapshot()
	if len(h.Counts) != len(h.Bounds)+1 {
		t.Fatalf("%d counts for %d bounds", len(h.Counts), len(h.Bounds))
	}
	want := map[int]uint64{0: 1, 3: 1, len(h.Bounds): 1}
	for i, n := range h.Counts {
		if n != want[i] {
			t.Errorf("bucket %d (le %v): %d, want %d", i, append(h.Bounds, 0)[i], n, want[i])
		}
	}
	if h.Sum < 60 || h.Sum > 61 {
		t.Errorf("sum %v s, want about 60", h.Sum)
	}
}
