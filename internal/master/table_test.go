package master

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// TestCrashBacksOffDoubling: a worker that keeps dying young is restarted
// after 20, 40, 80 ms (doubling), counted from its death, each death
// logged once; the slot's socket is closed during each back-off and the
// replacement gets a fresh one.
func TestCrashBacksOffDoubling(t *testing.T) {
	tt := newTestTable(t, 1, fastTimings)
	p := tt.cur(0)
	for i, want := range []time.Duration{20, 40, 80} {
		want *= time.Millisecond
		died := time.Now()
		p.exit("killed by signal 9")
		waitFor(t, 5*time.Second, func() error {
			if len(tt.st.attemptsOf(0)) < i+2 && tt.socketOpen(0) {
				return errors.New("socket still open during the back-off")
			}
			return nil
		})
		p = tt.waitNewWorker(0, p)
		started := tt.st.attemptsOf(0)[i+1]
		if gap := started.Sub(died); gap < want {
			t.Errorf("restart %d began %s after the death, want at least %s", i+1, gap, want)
		}
		if ln := tt.st.listenerOf(0, i+1); ln == tt.first[0] {
			t.Errorf("restart %d reused the closed socket", i+1)
		}
		if n := tt.log.count("restart_in=" + want.String()); n != 1 {
			t.Errorf("restart_in=%s logged %d times, want once", want, n)
		}
	}
	if r := tt.children()[0]; r.restarts != 3 || r.state != stateRunning {
		t.Errorf("slot 0: %+v, want 3 restarts, running", r)
	}
}

// TestHealthyWorkerRestartsAtOnce: a worker that was ready long enough is
// replaced at once, on the same socket, so the connections queued on it are
// served by the replacement.
func TestHealthyWorkerRestartsAtOnce(t *testing.T) {
	tm := fastTimings
	tm.healthyAfter = 0
	tm.backoffMin = time.Hour // any back-off would hang the test
	tt := newTestTable(t, 2, tm)
	p := tt.cur(1)
	p.exit("exit status 2")
	tt.waitNewWorker(1, p)
	if tt.st.listenerOf(1, 1) != tt.first[1] || !tt.socketOpen(1) {
		t.Error("the replacement did not get the slot's socket")
	}
	if n := tt.log.count("restart_in=0s"); n != 1 {
		t.Errorf("restart_in=0s logged %d times, want once", n)
	}
}

// TestFailedStartsBackOff: a replacement that cannot start (a broken binary
// on disk) is retried after a back-off that doubles from the failure to
// its cap, never at once, each failure logged once, the socket closed
// meanwhile; once it starts, the slot serves again.
func TestFailedStartsBackOff(t *testing.T) {
	tt := newTestTable(t, 2, fastTimings)
	const failures = 5
	tt.st.fail = func(_ context.Context, slot, attempt int) error {
		if slot == 0 && attempt >= 1 && attempt <= failures {
			return errors.New("exec format error")
		}
		return nil
	}
	p := tt.cur(0)
	p.exit("killed by signal 9")
	waitFor(t, 5*time.Second, func() error {
		if len(tt.st.attemptsOf(0)) < 3 {
			return errors.New("fewer than two failed attempts yet")
		}
		if tt.socketOpen(0) {
			return errors.New("socket open while the starts fail")
		}
		return nil
	})
	tt.waitNewWorker(0, p)
	at := tt.st.attemptsOf(0)
	if len(at) != failures+2 {
		t.Fatalf("%d start attempts, want %d", len(at), failures+2)
	}
	// The first restart waits 20 ms after the death; then each failed
	// start doubles it: 40, 80, 160, 160 (the cap), 160.
	for i, want := range []time.Duration{40, 80, 160, 160, 160} {
		want *= time.Millisecond
		if gap := at[i+2].Sub(at[i+1]); gap < want {
			t.Errorf("attempt %d came %s after attempt %d, want at least %s", i+3, gap, i+2, want)
		}
	}
	if n := tt.log.count(`msg="worker start failed"`); n != failures {
		t.Errorf("%d start failures logged, want %d", n, failures)
	}
	if !tt.socketOpen(0) || tt.cur(1) == nil {
		t.Error("after the start: socket closed, or slot 1 lost its worker")
	}
}

// TestStuckWorkerIsKilled: a worker that stops answering its heartbeat is
// killed (logged), and replaced after a back-off, its socket closed
// meanwhile; its neighbour is left alone.
func TestStuckWorkerIsKilled(t *testing.T) {
	tt := newTestTable(t, 2, fastTimings)
	p, other := tt.cur(0), tt.cur(1)
	openAtKill := make(chan bool, 1)
	p.onKill = func() {
		// A closed listener refuses a deadline.
		openAtKill <- tt.first[0].(*net.TCPListener).SetDeadline(time.Now()) == nil
	}
	p.hung.Store(true)
	tt.waitNewWorker(0, p)
	if <-openAtKill {
		t.Error("the master's copy of the socket was open when the stuck worker was killed")
	}
	if !slices.Contains(tt.j.all(), fmt.Sprintf("signal %d killed", p.pid)) {
		t.Errorf("the stuck worker was not sent SIGKILL: %q", tt.j.all())
	}
	if n := tt.log.count(`msg="worker not answering; killing it"`); n != 1 {
		t.Errorf("%d kills logged, want 1", n)
	}
	if tt.st.listenerOf(0, 1) == tt.first[0] {
		t.Error("the replacement got the stuck worker's socket, want a fresh one")
	}
	if tt.cur(1) != other {
		t.Error("the other worker was replaced too")
	}
}

// TestReloadNoBounceToAnOldWorker: every replacement is ready before any
// old worker is told anything; every old worker stops accepting before any
// closes its clients; each old worker is stopped as replaced (its clients
// get 1012) and exits.
func TestReloadNoBounceToAnOldWorker(t *testing.T) {
	tt := newTestTable(t, 3, fastTimings)
	olds := []*fakeProc{tt.cur(0), tt.cur(1), tt.cur(2)}
	if err := tt.Reload(false, 0); err != nil {
		t.Fatal(err)
	}
	lines := tt.j.all()
	lastStart, firstStopAccepting, lastStopAccepting, firstStop := -1, len(lines), -1, len(lines)
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "start "):
			lastStart = i
		case strings.HasPrefix(l, "stop-accepting "):
			firstStopAccepting, lastStopAccepting = min(firstStopAccepting, i), i
		case strings.HasPrefix(l, "stop "):
			firstStop = min(firstStop, i)
		}
	}
	if lastStart > firstStopAccepting || lastStopAccepting > firstStop || firstStop == len(lines) {
		t.Errorf("want every start, then every stop-accepting, then the stops: %q", lines)
	}
	for i, o := range olds {
		select {
		case <-o.exited:
		default:
			t.Errorf("old worker %d still running", o.pid)
		}
		if p := tt.cur(i); p == nil || p == o {
			t.Errorf("slot %d not replaced", i)
		}
		if !slices.Contains(lines, fmt.Sprintf("stop %d replaced", o.pid)) {
			t.Errorf("old worker %d not stopped as replaced: %q", o.pid, lines)
		}
	}
	if n := len(tt.children()); n != 3 {
		t.Errorf("%d workers listed after the reload, want 3", n)
	}
}

// TestReloadStopsAtAFailedStart: when a replacement cannot start, the
// reload fails naming the slot; the slots before it run their new workers
// (the old ones stopped), the slots from it on keep their old workers.
func TestReloadStopsAtAFailedStart(t *testing.T) {
	tt := newTestTable(t, 3, fastTimings)
	olds := []*fakeProc{tt.cur(0), tt.cur(1), tt.cur(2)}
	tt.st.fail = func(_ context.Context, slot, attempt int) error {
		if slot == 1 {
			return errors.New("exec format error")
		}
		return nil
	}
	err := tt.Reload(true, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "worker 1") {
		t.Fatalf("reload: %v, want an error naming worker 1", err)
	}
	<-olds[0].exited
	for i := 1; i < 3; i++ {
		if tt.cur(i) != olds[i] {
			t.Errorf("slot %d: old worker replaced or gone", i)
		}
	}
	if tt.cur(0) == olds[0] || !tt.socketOpen(1) {
		t.Error("slot 0 not replaced, or slot 1's socket closed under its live worker")
	}
}

// TestStopWithAStartInFlight: stop ends a start in progress and stops
// every worker; nothing is started after it returns.
func TestStopWithAStartInFlight(t *testing.T) {
	tt := newTestTable(t, 2, fastTimings)
	blocked := make(chan struct{})
	tt.st.fail = func(ctx context.Context, slot, attempt int) error {
		close(blocked)
		<-ctx.Done() // a worker slow to get ready
		return ctx.Err()
	}
	p0, p1 := tt.cur(0), tt.cur(1)
	p0.exit("killed by signal 9")
	<-blocked
	tt.Stop(true, time.Second)
	<-p1.exited
	before := len(tt.j.all())
	if !slices.Contains(tt.j.all(), fmt.Sprintf("stop %d shutdown", p1.pid)) {
		t.Errorf("the live worker was not asked to stop: %q", tt.j.all())
	}
	if tt.children() != nil {
		t.Error("the table still answers after Stop")
	}
	if err := tt.Reload(false, 0); !errors.Is(err, errStopping) {
		t.Errorf("reload after stop: %v", err)
	}
	if after := len(tt.j.all()); after != before {
		t.Errorf("activity after Stop: %q", tt.j.all()[before:])
	}
}

// TestStopDuringBackoff: a stop while a slot waits out its back-off
// returns at once and cancels the restart.
func TestStopDuringBackoff(t *testing.T) {
	tm := fastTimings
	tm.backoffMin = time.Hour
	tt := newTestTable(t, 1, tm)
	p := tt.cur(0)
	p.exit("killed by signal 9")
	waitFor(t, 5*time.Second, func() error {
		if tt.socketOpen(0) {
			return errors.New("not backing off yet")
		}
		return nil
	})
	tt.Stop(false, 0)
	if n := len(tt.st.attemptsOf(0)); n != 1 {
		t.Errorf("%d starts, want only the first", n)
	}
}

// TestStatusRows: a slot backing off is listed as down with its last pid;
// a reload's draining workers are listed after the current ones.
func TestStatusRows(t *testing.T) {
	tm := fastTimings
	tm.backoffMin = time.Hour
	tt := newTestTable(t, 2, tm)
	p := tt.cur(1)
	p.exit("killed by signal 9")
	waitFor(t, 5*time.Second, func() error {
		rows := tt.children()
		if len(rows) != 2 || rows[1].state != stateDown || rows[1].pid != p.pid || rows[1].proc != nil {
			return fmt.Errorf("rows %+v, want slot 1 down with pid %d", rows, p.pid)
		}
		return nil
	})
}

// TestStopStopsEveryWorker: Stop closes every slot's socket and stops every
// worker at once as a shutdown (its clients get 1001), passing the grace on;
// a worker that cannot hear the request gets SIGTERM. Stop returns once all
// have exited.
func TestStopStopsEveryWorker(t *testing.T) {
	tm := fastTimings
	tm.stuckAfter = time.Hour // the deaf worker is stopped, not killed as stuck
	tm.stopCall = 50 * time.Millisecond
	tt := newTestTable(t, 3, tm)
	ps := []*fakeProc{tt.cur(0), tt.cur(1), tt.cur(2)}
	ps[2].hung.Store(true)
	tt.Stop(true, 5*time.Second)
	for i, p := range ps {
		select {
		case <-p.exited:
		default:
			t.Errorf("worker %d still running after Stop", p.pid)
		}
		if tt.first[i].(*net.TCPListener).SetDeadline(time.Now()) == nil {
			t.Errorf("slot %d's socket still open", i)
		}
	}
	for _, p := range ps[:2] {
		want := ctl.StopRequest{Reason: ctl.StopShutdown, Graceful: true, Grace: 5 * time.Second}
		if got := p.stop.Load(); got == nil || *got != want {
			t.Errorf("worker %d heard %+v, want %+v", p.pid, got, want)
		}
	}
	if !slices.Contains(tt.j.all(), fmt.Sprintf("signal %d terminated", ps[2].pid)) {
		t.Errorf("the deaf worker was not sent SIGTERM: %q", tt.j.all())
	}
}
