package master

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wsfleet/wsfleet/internal/sdnotify"
)

// systemd readiness (Type=notify, see scripts/systemd/wsfleet.service):
// READY=1 once every worker accepts, RELOADING=1 and READY=1 around a
// reload, STOPPING=1 when the stop begins, and a STATUS= line (workers,
// connections) every statusEvery. Only the master talks to systemd: the
// workers' environment has no NOTIFY_SOCKET (childEnv).

// statusEvery is how often the master sends its STATUS= line.
const statusEvery = 10 * time.Second

// notify sends state to systemd, when Options.Notify is set; a failure is
// logged, never fatal (systemd may be gone, the service not).
func (m *Master) notify(state string) {
	if err := m.opts.Notify.Notify(state); err != nil {
		m.log.Warn("systemd notify", "err", err)
	}
}

// notifyReady reports the cluster ready, with its STATUS line, and starts
// the STATUS loop; Start calls it last.
func (m *Master) notifyReady(ctx context.Context) {
	if m.opts.Notify == nil {
		return
	}
	m.notifyStatus(ctx)
	m.notify(sdnotify.Ready)
	m.wg.Go(func() {
		t := time.NewTicker(statusEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				m.notifyStatus(ctx)
			}
		}
	})
}

// notifyStatus sends the STATUS= line: workers running and connections.
func (m *Master) notifyStatus(ctx context.Context) {
	st := m.Status(ctx)
	running := 0
	for _, w := range st.Workers {
		if w.State == stateRunning {
			running++
		}
	}
	line, err := sdnotify.Status(fmt.Sprintf("%d/%d workers running, %d connections", running, m.opts.Count, st.Summary.Connections))
	if err == nil {
		m.notify(line)
	}
}

// reloadBegins sends RELOADING=1 when no other reload runs; reloadEnds
// sends READY=1 when the last running one ends (reloads queue: see
// table.Reload).
func (m *Master) reloadBegins() {
	if m.opts.Notify == nil {
		return
	}
	m.notifyMu.Lock()
	defer m.notifyMu.Unlock()
	m.reloading++
	if m.reloading > 1 {
		return
	}
	state, err := sdnotify.ReloadingState()
	if err != nil {
		m.log.Warn("systemd notify", "err", err)
		state = sdnotify.Reloading
	}
	m.notify(state)
}

func (m *Master) reloadEnds(ctx context.Context) {
	if m.opts.Notify == nil {
		return
	}
	m.notifyMu.Lock()
	m.reloading--
	last := m.reloading == 0
	m.notifyMu.Unlock()
	if last {
		m.notify(sdnotify.Ready)
		m.notifyStatus(ctx)
	}
}

// childEnv is a worker's environment: the master's without
// NOTIFY_SOCKET, so that only the main process speaks to systemd.
func childEnv() []string { return sdnotify.WithoutSocket(os.Environ()) }
