package gateway

import (
	"runtime"
	"testing"
)

// TestPollersLeaveAP: however many cores a server is given, its pollers
// leave one P out of epoll_wait (see Options.Cores), and there is one.
func TestPollersLeaveAP(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	for _, cores := range []int{1, 2, procs, 64} {
		o := Options{Cores: cores}
		got := o.pollers()
		if got < 1 || got > max(1, procs-1) || got > cores {
			t.Errorf("Cores %d, GOMAXPROCS %d: %d pollers", cores, procs, got)
		}
	}
}
