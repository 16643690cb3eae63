package e2e

import (
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// statusGoingAway is the close code of a stop (RFC 6455 §7.4.1).
const statusGoingAway = ws.StatusGoingAway

// graceSlack is how much earlier than its grace a graceful close may be
// seen: none in principle, since the test's clock starts first; a little
// for coarse timers.
const graceSlack = 100 * time.Millisecond

// stepsGrace is the grace of the graceful stops whose test acts during it
// (checks that new connections are refused, has a client leave): with
// 2 s, CI's loaded machine once took longer than the grace to get there,
// and the client to leave had been closed already.
const stepsGrace = 10 * time.Second

// TestStop: a plain stop closes every client with 1001, the master and the
// workers exit, the pid file goes, and the command exits 0.
func TestStop(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 4})
	clients := c.dialN(20)
	for _, cl := range clients {
		if err := cl.roundTrip("hi"); err != nil {
			t.Fatal(err)
		}
	}
	c.mustCLI("stop")
	for _, cl := range clients {
		cl.expectClose(expectTimeout, statusGoingAway)
		cl.expectEOF(expectTimeout)
	}
	c.waitGone(15 * time.Second)
	if code := c.waitFgExit(15 * time.Second); code != 0 {
		t.Errorf("foreground master exited %d after stop, want 0", code)
	}
}

// TestStopGraceful: `stop -g -grace 10s` refuses new connections at once,
// keeps serving the clients it has, lets one leave by itself, and closes
// the rest with 1001 only once the grace has passed.
func TestStopGraceful(t *testing.T) {
	t.Parallel()
	const grace = stepsGrace
	c := startCluster(t, clusterOpts{count: 2})
	clients := c.dialN(6)
	for _, cl := range clients {
		if err := cl.roundTrip("hi"); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	stopped := goCLI("stop", "-pid-file", c.pidFile, "-g", "-grace", grace.String())

	waitRefusing(t, c.addr, grace)
	for _, cl := range clients {
		if err := cl.roundTrip("draining"); err != nil {
			t.Errorf("during the drain: %v", err)
		}
	}
	clients[0].leave()
	if cl, err := tryDialWS(c.addr); err == nil {
		cl.close()
		t.Errorf("a new connection was accepted during the drain")
	}
	for _, cl := range clients[1:] {
		ev := cl.expectClose(grace+expectTimeout, statusGoingAway)
		if d := ev.at.Sub(start); d < grace-graceSlack {
			t.Errorf("client %s closed %s after stop -g, before the %s grace", cl.local, d, grace)
		}
	}
	res := waitChan(t, stopped, cliTimeout, "stop -g")
	res.check(t, "stop -g")
	if d := res.at.Sub(start); d < grace-graceSlack {
		t.Errorf("stop -g returned after %s, before the %s grace while clients were connected", d, grace)
	}
	c.waitGone(15 * time.Second)
}

// TestStopGracefulAllLeave: when every client leaves during `stop -g`, the
// stop completes without waiting for the rest of the grace.
func TestStopGracefulAllLeave(t *testing.T) {
	t.Parallel()
	const grace = 60 * time.Second
	c := startCluster(t, clusterOpts{count: 2})
	clients := c.dialN(4)
	stopped := goCLI("stop", "-pid-file", c.pidFile, "-g", "-grace", grace.String())
	waitRefusing(t, c.addr, 10*time.Second)
	for _, cl := range clients {
		cl.leave()
	}
	left := time.Now()
	res := waitChan(t, stopped, 20*time.Second, "stop -g once every client left")
	res.check(t, "stop -g")
	t.Logf("stop -g returned %s after the last client left", res.at.Sub(left))
	c.waitGone(15 * time.Second)
}

// waitRefusing waits until a new WebSocket connection to addr fails: the
// sign that a drain has begun.
func waitRefusing(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, func() error {
		cl, err := tryDialWS(addr)
		if err != nil {
			return nil
		}
		cl.close()
		return errors.New("new connections are still accepted")
	})
}

// TestSignals: SIGTERM to a foreground master is a graceful stop, SIGINT a
// fast one; both close every client with 1001 and exit 0.
func TestSignals(t *testing.T) {
	t.Parallel()
	t.Run("SIGTERM waits for the grace", func(t *testing.T) {
		t.Parallel()
		const grace = stepsGrace
		c := startCluster(t, clusterOpts{count: 2, grace: grace})
		clients := c.dialN(4)
		sent := signalMaster(t, c, syscall.SIGTERM)
		waitRefusing(t, c.addr, grace)
		clients[0].leave()
		for _, cl := range clients[1:] {
			ev := cl.expectClose(grace+expectTimeout, statusGoingAway)
			if d := ev.at.Sub(sent); d < grace-graceSlack {
				t.Errorf("client closed %s after SIGTERM, before the %s grace", d, grace)
			}
		}
		if code := c.waitFgExit(15 * time.Second); code != 0 {
			t.Errorf("master exited %d after SIGTERM, want 0", code)
		}
		c.waitGone(15 * time.Second)
	})
	t.Run("SIGTERM ends when every client left", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t, clusterOpts{count: 2, grace: time.Minute})
		clients := c.dialN(4)
		signalMaster(t, c, syscall.SIGTERM)
		waitRefusing(t, c.addr, 10*time.Second)
		for _, cl := range clients {
			cl.leave()
		}
		if code := c.waitFgExit(20 * time.Second); code != 0 {
			t.Errorf("master exited %d after SIGTERM, want 0", code)
		}
		c.waitGone(15 * time.Second)
	})
	t.Run("SIGINT is fast", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t, clusterOpts{count: 2, grace: time.Minute})
		clients := c.dialN(4)
		signalMaster(t, c, syscall.SIGINT)
		for _, cl := range clients {
			cl.expectClose(expectTimeout, statusGoingAway)
		}
		if code := c.waitFgExit(20 * time.Second); code != 0 {
			t.Errorf("master exited %d after SIGINT, want 0", code)
		}
		c.waitGone(15 * time.Second)
	})
}

// signalMaster sends sig to the foreground master and returns when.
func signalMaster(t *testing.T, c *cluster, sig syscall.Signal) time.Time {
	t.Helper()
	at := time.Now()
	if err := c.fg.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v: %v", sig, err)
	}
	return at
}
