package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// statusServiceRestart is the close code of a reload (IANA registry of
// WebSocket close codes; gobwas/ws has no name for it).
const statusServiceRestart ws.StatusCode = 1012

// TestReload: `reload` replaces every worker one at a time. New
// connections are accepted and answered throughout, at least count-1
// workers run at every poll, and the old workers' clients get 1012.
func TestReload(t *testing.T) {
	t.Parallel()
	const count = 4
	// The drain path: hand-off (the default) would move the clients.
	c := startCluster(t, clusterOpts{count: count, extra: []string{"-handoff=false"}})
	before := c.status()
	clients := c.dialN(20)
	for _, cl := range clients {
		if err := cl.roundTrip("hi"); err != nil {
			t.Fatal(err)
		}
	}

	done := make(chan struct{})
	dials := goDialLoop(c.addr, done)
	polls := goStatusLoop(c, count, done)
	c.mustCLI("reload")
	after := waitReplaced(t, c, before, 60*time.Second)
	close(done)

	d := waitChan(t, dials, 30*time.Second, "dial loop")
	t.Logf("during the reload: %d dials answered, %d closed with 1012 before answering", d.answered, d.restarted)
	for _, f := range d.failures {
		t.Errorf("during the reload: %s", f)
	}
	if d.answered == 0 {
		t.Errorf("no connection opened during the reload was answered")
	}
	for _, f := range waitChan(t, polls, 30*time.Second, "status loop") {
		t.Errorf("during the reload: %s", f)
	}
	for _, cl := range clients {
		cl.expectClose(expectTimeout, statusServiceRestart)
	}
	for _, cl := range c.dialN(8) {
		if err := cl.roundTrip("after"); err != nil {
			t.Error(err)
		}
	}
	t.Logf("workers after the reload: %+v", after.Workers)
}

// dialStats is what goDialLoop saw.
type dialStats struct {
	answered  int      // connections that got their echo
	restarted int      // connections closed with 1012 before their echo
	failures  []string // anything else: a refused dial, a reset, a timeout
}

// goDialLoop opens, checks and closes connections one after the other
// until done is closed (at most 5000), and reports what happened.
func goDialLoop(addr string, done <-chan struct{}) <-chan dialStats {
	out := make(chan dialStats, 1)
	go func() {
		var s dialStats
		defer func() { out <- s }()
		for i := 0; i < 5000; i++ {
			select {
			case <-done:
				return
			default:
			}
			cl, err := tryDialWS(addr)
			if err != nil {
				s.failures = append(s.failures, fmt.Sprintf("dial %d: %v", i, err))
				continue
			}
			msg := fmt.Sprintf("r-%d", i)
			err = cl.write(ws.OpText, []byte(msg))
			var ev wsEvent
			if err == nil {
				ev, err = cl.readMessage(expectTimeout)
			}
			switch {
			case err == nil && string(ev.data) == "hello "+msg:
				s.answered++
			case ev.kind == evClose && ev.code == statusServiceRestart:
				s.restarted++
			case err == nil:
				s.failures = append(s.failures, fmt.Sprintf("dial %d: answer %q", i, ev.data))
			default:
				s.failures = append(s.failures, fmt.Sprintf("dial %d: %v", i, err))
			}
			cl.close()
		}
	}()
	return out
}

// goStatusLoop polls `status -json` until done is closed (at most 2000
// times) and reports every poll that failed or showed fewer than count-1
// running workers.
func goStatusLoop(c *cluster, count int, done <-chan struct{}) <-chan []string {
	out := make(chan []string, 1)
	go func() {
		var bad []string
		defer func() { out <- bad }()
		for i := 0; i < 2000; i++ {
			select {
			case <-done:
				return
			default:
			}
			st, err := c.tryStatus()
			if err != nil {
				bad = append(bad, fmt.Sprintf("status poll %d: %v", i, err))
				continue
			}
			running := 0
			for _, w := range st.Workers {
				if w.State == "running" {
					running++
				}
			}
			if running < count-1 {
				bad = append(bad, fmt.Sprintf("status poll %d: %d workers running: %+v", i, running, st.Workers))
			}
		}
	}()
	return out
}

// waitReplaced waits until every slot runs a worker none of before's pids
// and every old worker has exited.
func waitReplaced(t *testing.T, c *cluster, before *statusJSON, timeout time.Duration) *statusJSON {
	t.Helper()
	var after *statusJSON
	waitFor(t, timeout, func() error {
		st, err := c.tryStatus()
		if err != nil {
			return err
		}
		if err := allRunning(st, len(before.Workers)); err != nil {
			return err
		}
		for _, old := range before.Workers {
			for _, w := range st.Workers {
				if w.PID == old.PID {
					return fmt.Errorf("slot %d still runs old worker %d", w.Slot, w.PID)
				}
			}
			if processAlive(old.PID) {
				return fmt.Errorf("old worker %d still alive", old.PID)
			}
		}
		after = st
		return nil
	})
	return after
}

// TestReloadGraceful: with `reload -g -grace 10s` the old workers' clients
// stay connected and served until the grace has passed, then get 1012.
func TestReloadGraceful(t *testing.T) {
	t.Parallel()
	const grace = stepsGrace
	c := startCluster(t, clusterOpts{count: 2})
	before := c.status()
	clients := c.dialN(6)
	start := time.Now()
	reloaded := goCLI("reload", "-pid-file", c.pidFile, "-g", "-grace", grace.String())
	for _, cl := range clients {
		if err := cl.roundTrip("still served"); err != nil {
			t.Errorf("right after reload -g: %v", err)
		}
	}
	for _, cl := range clients {
		ev := cl.expectClose(2*grace+30*time.Second, statusServiceRestart)
		if d := ev.at.Sub(start); d < grace-graceSlack {
			t.Errorf("client %s closed %s after reload -g, before the %s grace", cl.local, d, grace)
		}
	}
	waitChan(t, reloaded, cliTimeout, "reload -g").check(t, "reload -g")
	waitReplaced(t, c, before, 30*time.Second)
}

// TestRestart: `restart` (without -d) replaces the master, keeps its flags,
// closes the old clients with 1001 or 1012, and the cluster serves again.
// The command may stay in the foreground as the new master, so it runs in
// the background; cleanup waits for it after the final stop.
func TestRestart(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2})
	before := c.status()
	clients := c.dialN(4)
	c.runBackground("restart", "-pid-file", c.pidFile)
	for _, cl := range clients {
		cl.expectClose(20*time.Second, statusGoingAway, statusServiceRestart)
	}
	if code := c.waitFgExit(20 * time.Second); code != 0 {
		t.Errorf("the old foreground master exited %d on restart, want 0", code)
	}
	checkRestarted(t, c, before)
}

// TestRestartDaemon: `restart -d` returns once the new cluster serves.
func TestRestartDaemon(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2, daemon: true})
	before := c.status()
	clients := c.dialN(4)
	c.mustCLI("restart", "-d")
	if err := c.dial().roundTrip("right after restart -d"); err != nil {
		t.Errorf("restart -d returned before the cluster served: %v", err)
	}
	for _, cl := range clients {
		cl.expectClose(expectTimeout, statusGoingAway, statusServiceRestart)
	}
	checkRestarted(t, c, before)
}

// checkRestarted waits for a new master with all its workers and checks it
// kept the old one's flags and serves.
func checkRestarted(t *testing.T, c *cluster, before *statusJSON) {
	t.Helper()
	var st *statusJSON
	waitFor(t, readyTimeout, func() error {
		s, err := c.tryStatus()
		if err != nil {
			return err
		}
		if s.Master.PID == before.Master.PID {
			return fmt.Errorf("master pid still %d", s.Master.PID)
		}
		st = s
		return allRunning(s, c.opts.count)
	})
	m, old := st.Master, before.Master
	if m.Listen != old.Listen || m.App != old.App || m.Count != old.Count || m.ClusterName != old.ClusterName {
		t.Errorf("restart changed the flags: listen %q→%q app %q→%q count %d→%d cluster %q→%q",
			old.Listen, m.Listen, old.App, m.App, old.Count, m.Count, old.ClusterName, m.ClusterName)
	}
	if !strings.HasSuffix(m.Listen, c.addr[strings.LastIndex(c.addr, ":"):]) {
		t.Errorf("status listen %q, started with %s", m.Listen, c.addr)
	}
	if processAlive(old.PID) {
		t.Errorf("old master %d still alive", old.PID)
	}
	if err := c.dial().roundTrip("after restart"); err != nil {
		t.Error(err)
	}
}

// TestReloadSignals: SIGUSR1 to the master is a reload, SIGUSR2 a graceful
// one with the master's -grace.
func TestReloadSignals(t *testing.T) {
	t.Parallel()
	const grace = time.Second
	for _, tc := range []struct {
		sig      syscall.Signal
		minDelay time.Duration
	}{
		{sig: syscall.SIGUSR1, minDelay: 0},
		{sig: syscall.SIGUSR2, minDelay: grace - graceSlack},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, clusterOpts{count: 2, grace: grace, extra: []string{"-handoff=false"}})
			before := c.status()
			clients := c.dialN(4)
			sent := signalMaster(t, c, tc.sig)
			for _, cl := range clients {
				ev := cl.expectClose(grace+expectTimeout, statusServiceRestart)
				if d := ev.at.Sub(sent); d < tc.minDelay {
					t.Errorf("client closed %s after %v, before the %s grace", d, tc.sig, grace)
				}
			}
			waitReplaced(t, c, before, 30*time.Second)
			if err := c.dial().roundTrip("after"); err != nil {
				t.Error(err)
			}
		})
	}
}
