package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/internal/version"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// handleControl answers the master's requests (internal/ctl's wire.go
// describes them).
func (w *Worker) handleControl(ctx context.Context, op string, args json.RawMessage) (any, error) {
	switch op {
	case ctl.OpStatus:
		w.mu.Lock()
		draining := w.draining
		w.mu.Unlock()
		return ctl.WorkerStatus{
			PID: os.Getpid(), Slot: w.opts.Slot, Started: w.started,
			BusConnected: w.bc.Connected(), Draining: draining, Stats: wireStats(w.gw.Stats()),
			Cores: w.opts.Gateway.Cores, MemoryLimit: memoryLimit(), Procs: runtime.GOMAXPROCS(0),
			Build: version.Get().String(),
		}, nil
	case ctl.OpMetrics:
		return w.metrics(), nil
	case ctl.OpPing:
		return nil, nil // the master's heartbeat: an answer is all it asks
	case ctl.OpConnections:
		// Streamed: a busy worker's list is bigger than a control line.
		return &ctl.Stream{Items: ctl.Items(w.conns())}, nil
	case ctl.OpStopAccepting:
		// A reload's old worker, before any old worker bounces its
		// clients, so they reconnect only to new workers.
		w.gw.StopAccepting()
		return "ok", nil
	case ctl.OpHandoffListen:
		var req ctl.HandoffListen
		if err := json.Unmarshal(args, &req); err != nil {
			return nil, fmt.Errorf("worker: %s: %w", op, err)
		}
		if err := w.listenHandoff(req); err != nil {
			return nil, err
		}
		return "listening", nil
	case ctl.OpHandoff:
		var req ctl.HandoffRequest
		if err := json.Unmarshal(args, &req); err != nil || req.Name == "" || req.TimeoutMillis <= 0 {
			return nil, fmt.Errorf("worker: %s: bad request", op)
		}
		return w.handOff(ctx, req), nil
	case ctl.OpReloadTLS:
		if w.opts.Certs == nil {
			return "no TLS", nil
		}
		if err := w.opts.Certs.Reload(); err != nil {
			return nil, err
		}
		w.log.Info("TLS certificate reloaded")
		return "reloaded", nil
	case ctl.OpTicketKeys:
		if w.opts.Certs == nil {
			return "no TLS", nil
		}
		var k ctl.TicketKeys
		if err := json.Unmarshal(args, &k); err != nil {
			return nil, fmt.Errorf("worker: %s: %w", op, err)
		}
		if err := w.opts.Certs.SetTicketKeys(k.Gen, k.Keys); err != nil {
			return nil, fmt.Errorf("worker: %s: %w", op, err)
		}
		w.log.Info("TLS session ticket keys set", "generation", w.opts.Certs.TicketGen())
		return "set", nil
	case ctl.OpStop:
		var req ctl.StopRequest
		if err := json.Unmarshal(args, &req); err != nil {
			return nil, fmt.Errorf("worker: stop: %w", err)
		}
		if req.Reason != ctl.StopShutdown && req.Reason != ctl.StopReplaced {
			return nil, fmt.Errorf("worker: stop: unknown reason %q", req.Reason)
		}
		select {
		case w.stopReq <- req:
			return "stopping", nil
		default:
			return nil, errors.New("worker: already stopping")
		}
	}
	return nil, fmt.Errorf("worker: unknown request %q", op)
}

// closeFor is the close code and reason a stopping worker's clients get:
// 1012 (service restart) when a reload replaced it, else 1001 (going
// away).
func closeFor(r ctl.StopReason) (ws.StatusCode, string) {
	if r == ctl.StopReplaced {
		return gateway.StatusServiceRestart, "server restarting"
	}
	return ws.StatusGoingAway, "server stopping"
}

// conns lists the live connections and their users.
func (w *Worker) conns() []ctl.ConnInfo {
	cs := w.gw.Conns()
	out := make([]ctl.ConnInfo, len(cs))
	for i, ci := range cs {
		out[i] = ctl.ConnInfo{
			ID: ci.ID, Remote: ci.Remote, Created: ci.Created,
			BytesIn: ci.BytesIn, BytesOut: ci.BytesOut,
			MessagesIn: ci.MessagesIn, MessagesOut: ci.MessagesOut,
		}
		if c := w.gw.Lookup(ci.ID); c != nil {
			out[i].User = w.hub.ConnUser(c)
		}
	}
	return out
}

// wireStats is the gateway's counters as the master reads them.
func wireStats(s gateway.Stats) ctl.Stats {
	return ctl.Stats{
		Connections: s.Connections, Accepted: s.Accepted,
		MessagesIn: s.MessagesIn, MessagesOut: s.MessagesOut, SendFailures: s.SendFailures,
		Refused: ctl.Refusals(s.Refused), // the same fields; the gateway's own type
	}
}

// memoryLimit is the runtime's soft memory limit in bytes, 0 for none.
func memoryLimit() int64 {
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		return l
	}
	return 0
}
