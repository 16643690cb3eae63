package e2e

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadHandoffEcho: by default (-handoff is on), `reload` moves every
// live connection to its slot's new worker: no client is closed, each
// keeps its id (now served by a new pid), and each is answered after the
// reload.
func TestReloadHandoffEcho(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2})
	before := c.status()
	clients := c.dialN(40)
	for _, cl := range clients {
		if err := cl.roundTrip("before"); err != nil {
			t.Fatal(err)
		}
	}
	ids := c.owners(clients)
	c.mustCLI("reload")
	waitReplaced(t, c, before, 60*time.Second)
	for i, cl := range clients {
		if err := cl.roundTrip(fmt.Sprintf("after %d", i)); err != nil {
			t.Fatalf("client %d after the reload: %v", i, err)
		}
	}
	after := c.owners(clients)
	for _, cl := range clients {
		was, now := ids[cl], after[cl]
		if was.ID != now.ID {
			t.Errorf("client %s: id %s became %s", cl.local, was.ID, now.ID)
		}
		if was.WorkerPID == now.WorkerPID {
			t.Errorf("client %s: still on worker %d", cl.local, now.WorkerPID)
		}
	}
}

// TestReloadHandoffNewWorkerKilled: the new worker is killed in the middle
// of a hand-off. No connection is left without an owner: those it had
// taken end with it (the clients see the TCP connection end), the batch in
// flight and the rest stay with the old worker, which closes them with
// 1012 as a reload without -handoff does; `reload` exits 1 and says why;
// the slot serves again. The receiver waits 2 s before answering each
// batch of 10 (test knobs, internal/worker/handoff_test_knobs.go), which
// gives the test its window; not parallel, for the environment.
func TestReloadHandoffNewWorkerKilled(t *testing.T) {
	t.Setenv("WSFLEET_E2E_HANDOFF_BATCH", "10")
	t.Setenv("WSFLEET_E2E_HANDOFF_ACK_DELAY", "2s")
	c := startCluster(t, clusterOpts{count: 1, extra: []string{"-handoff"}})
	before := c.status()
	old := before.Workers[0].PID
	clients := c.dialN(40)
	for _, cl := range clients {
		if err := cl.roundTrip("before"); err != nil {
			t.Fatal(err)
		}
	}
	reloaded := goCLI("reload", "-pid-file", c.pidFile)
	// The new worker holds its first batch and a second one in flight.
	var nw int
	waitFor(t, 30*time.Second, func() error {
		st, err := c.tryStatus()
		if err != nil {
			return err
		}
		for _, w := range st.Workers {
			if w.PID != old && w.Connections >= 20 {
				nw = w.PID
				return nil
			}
		}
		return fmt.Errorf("no new worker with 20 connections: %+v", st.Workers)
	})
	if err := syscall.Kill(nw, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r := waitChan(t, reloaded, cliTimeout, "reload")
	if r.code == 0 || !strings.Contains(r.stderr+r.stdout, "hand-off") {
		t.Errorf("reload exited %d: %s %s; want a failure naming the hand-off", r.code, r.stdout, r.stderr)
	}
	var gone, restarted int
	for i, cl := range clients {
		ev, err := cl.waitClose(expectTimeout)
		switch {
		case err == nil && ev.code == statusServiceRestart:
			restarted++
		case ev.kind == evEOF:
			gone++ // it had moved to the killed worker
		default:
			t.Errorf("client %d: %v %v; want 1012, or the end of a moved connection", i, ev, err)
		}
	}
	t.Logf("of 40 connections: %d ended with the killed worker, %d closed with 1012 by the old one", gone, restarted)
	if gone < 10 || restarted < 10 {
		t.Errorf("moved and ended %d, kept and closed %d; want at least a batch of each", gone, restarted)
	}
	waitFor(t, 30*time.Second, func() error {
		st, err := c.tryStatus()
		if err != nil {
			return err
		}
		return allRunning(st, 1)
	})
	for _, cl := range c.dialN(4) {
		if err := cl.roundTrip("after"); err != nil {
			t.Error(err)
		}
	}
}
