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
