package master

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStatusNamesSilentWorker: a worker that does not answer "status" in
// time shows as busy and is named in Unanswered; one that answers is not,
// and neither is a slot whose worker is dead (nothing to ask).
func TestStatusNamesSilentWorker(t *testing.T) {
	tm := fastTimings
	tm.stuckAfter = tm.backoffMax * 1000 // the heartbeat must not kill it first
	tm.backoffMin = tm.stuckAfter
	tt := newTestTable(t, 3, tm)
	silent, dead := tt.cur(1), tt.cur(2)
	silent.hung.Store(true)
	dead.exit("killed by signal 9")
	waitFor(t, 10*time.Second, func() error {
		if tt.cur(2) != nil {
			return errors.New("slot 2 still listed with a live worker")
		}
		return nil
	})
	m := &Master{}
	m.table.Store(tt.table)
	st := m.Status(context.Background())
	states := []string{}
	for _, w := range st.Workers {
		states = append(states, w.State)
	}
	if got := strings.Join(states, " "); got != "running busy down" {
		t.Errorf("states %q, want running busy down", got)
	}
	if len(st.Unanswered) != 1 || st.Unanswered[0].PID != silent.pid || st.Unanswered[0].Slot != 1 {
		t.Errorf("unanswered %+v, want only slot 1 (pid %d)", st.Unanswered, silent.pid)
	}
	silent.hung.Store(false)
}
