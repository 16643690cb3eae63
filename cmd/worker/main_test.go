package main

import (
	"testing"
	"time"
)

// TestOrOff: the command line's 0 ("never") reaches the gateway as its
// negative "disabled", not as 0, which the gateway reads as its default.
func TestOrOff(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, -1},
		{25 * time.Second, 25 * time.Second},
		{time.Millisecond, time.Millisecond},
	} {
		if got := orOff(c.in); got != c.want {
			t.Errorf("orOff(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}
