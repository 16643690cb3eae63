package master

import (
	"context"
	"errors"
	"testing"
)

// TestClusterStatusWhileStarting: the control socket opens before the
// workers and the leadership; a `status -cluster` then is "still
// starting", not a crash on the missing leadership.
func TestClusterStatusWhileStarting(t *testing.T) {
	m := &Master{}
	if _, err := m.ClusterStatus(context.Background()); !errors.Is(err, errStarting) {
		t.Fatalf("err = %v, want errStarting", err)
	}
}

// TestPageState: the admin page names the master's worker states as the
// operator reads them.
func TestPageState(t *testing.T) {
	for in, want := range map[string]string{
		stateRunning: "ready", stateStopping: "draining", stateBusy: "busy",
		stateStarting: "restarting", stateDown: "restarting",
	} {
		if got := pageState(in); got != want {
			t.Errorf("pageState(%q) = %q, want %q", in, got, want)
		}
	}
}
