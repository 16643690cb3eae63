package master

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/wsfleet/wsfleet/internal/admin"
	"github.com/wsfleet/wsfleet/internal/ctl"
)

// readyInFlight bounds the /readyz checks served at once: each asks every
// worker for its bus state.
const readyInFlight = 4

// mountHealth mounts /readyz (issue 13): 200 "ok" when every worker slot
// has a running worker, the master is connected to the bus and, when the
// master runs it, the embedded NATS server is up; otherwise 503 and one
// line per reason ("worker 2: restarting", "bus: disconnected").
func (m *Master) mountHealth(s *admin.Server) {
	sem := make(chan struct{}, readyInFlight)
	s.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		select {
		case sem <- struct{}{}:
			defer func() { <-sem }()
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		reasons := m.notReady(r.Context())
		if len(reasons) == 0 {
			fmt.Fprintln(w, "ok")
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, strings.Join(reasons, "\n"))
	})
}

// notReady lists why the host should not get traffic, none when it should.
func (m *Master) notReady(ctx context.Context) []string {
	var out []string
	if m.nats != nil && !m.nats.Server().Running() {
		out = append(out, "nats: embedded server not running")
	}
	if m.bus == nil || !m.bus.Connected() {
		out = append(out, "bus: disconnected")
	}
	refs := m.children()
	if refs == nil {
		return append(out, "workers: starting")
	}
	cur := make(map[int]childRef, len(refs))
	for _, r := range refs {
		if _, ok := cur[r.slot]; !ok {
			cur[r.slot] = r // a slot's current worker comes first, draining ones after
		}
	}
	busDown := m.workersOffBus(ctx, cur)
	for slot := range m.opts.Count {
		r, ok := cur[slot]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("worker %d: not started", slot))
		case r.state == stateStarting:
			out = append(out, fmt.Sprintf("worker %d: restarting", slot))
		case r.state != stateRunning:
			out = append(out, fmt.Sprintf("worker %d: %s", slot, r.state))
		case busDown[slot]:
			out = append(out, fmt.Sprintf("worker %d: bus disconnected", slot))
		}
	}
	return out
}

// workersOffBus asks the running workers whether they are connected to the
// bus (ctl.OpStatus, within statusTimeout) and returns the slots that said
// no. A worker that does not answer is not listed: the master's heartbeat
// judges a stuck worker.
func (m *Master) workersOffBus(ctx context.Context, cur map[int]childRef) map[int]bool {
	var mu sync.Mutex
	down := map[int]bool{}
	var wg sync.WaitGroup
	for slot, r := range cur {
		if r.proc == nil || r.state != stateRunning {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			var st ctl.WorkerStatus
			err := r.proc.Call(cctx, ctl.OpStatus, nil, &st)
			if err != nil && !errors.Is(err, ctl.ErrClosed) {
				m.log.Debug("readyz: worker did not answer", "worker", slot, "err", err)
			}
			if err == nil && !st.BusConnected {
				mu.Lock()
				down[slot] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return down
}
