package master

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// table is the master's worker table: the slots, their current and
// draining workers, restarts, back-off and the slots' sockets. One
// goroutine, run, owns all of it (tableflip's Upgrader.run): requests
// (reload, stop, a snapshot for status) and child events (ready, exited,
// not answering, a back-off over) reach it as functions on inbox, so no
// lock guards the table. Anything that blocks (starting a process, stopping
// one, a heartbeat) runs in a goroutine of its own, which reports back
// through inbox.
type table struct {
	tm      timings
	starter starter
	listen  func(ctx context.Context) (net.Listener, error) // a fresh slot socket
	log     *slog.Logger

	inbox  chan func()
	done   chan struct{} // closed when run has returned
	ctx    context.Context
	cancel context.CancelFunc // on stop: starts in flight give up
	wg     sync.WaitGroup     // every goroutine the table starts

	// Owned by run.
	// handoff: a reload hands the old workers' connections to the new
	// ones (-handoff, handoff.go).
	handoff  bool
	slots    []*slot
	stopping bool
	reload   *reloadOp   // the reload in progress
	queued   []*reloadOp // reloads asked for meanwhile
}

// slot is one worker position. Its socket outlives its workers while they
// are healthy; see closeSocket for when it does not.
type slot struct {
	index    int
	ln       net.Listener // the master's copy; nil while closed
	cur      *child       // nil while dead, starting or backing off
	last     *child       // the last current worker, for status while cur is nil
	old      []*child     // replaced, draining
	starting bool         // a start is in flight
	restarts int
	backoff  time.Duration
	retry    *time.Timer // a restart waiting out the back-off
}

// child is one worker process in the table.
type child struct {
	proc     process
	slot     int
	ready    time.Time // when it became ready
	state    string
	stuck    bool // killed for not answering
	stopping bool // asked to stop (by a reload or stop)
	cancel   context.CancelFunc
}

// childRef is a worker as status sees it, copied out of the table.
type childRef struct {
	proc     process // nil for a slot without a worker
	slot     int
	pid      int
	state    string
	restarts int
	ready    time.Time
}

// newTable makes a table of running workers, one per slot, with their
// sockets, and starts its loop.
func newTable(tm timings, st starter, listen func(context.Context) (net.Listener, error), lns []net.Listener, procs []process, log *slog.Logger) *table {
	t := &table{
		tm: tm, starter: st, listen: listen, log: log,
		inbox: make(chan func()), done: make(chan struct{}),
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	for i, ln := range lns {
		s := &slot{index: i, ln: ln}
		t.slots = append(t.slots, s)
		t.adopt(s, procs[i])
	}
	t.wg.Go(t.run)
	return t
}

func (t *table) run() {
	defer close(t.done)
	for f := range t.inbox {
		f()
		if t.stopping && t.idle() {
			return
		}
	}
}

// send runs f on the loop; false when the loop has ended.
func (t *table) send(f func()) bool {
	select {
	case t.inbox <- f:
		return true
	case <-t.done:
		return false
	}
}

// idle: no worker left and no start in flight.
func (t *table) idle() bool {
	for _, s := range t.slots {
		if s.cur != nil || len(s.old) > 0 || s.starting {
			return false
		}
	}
	return true
}

// adopt makes p the slot's current worker and watches it.
func (t *table) adopt(s *slot, p process) {
	ctx, cancel := context.WithCancel(t.ctx)
	c := &child{proc: p, slot: s.index, ready: time.Now(), state: stateRunning, cancel: cancel}
	s.cur, s.last = c, c
	t.wg.Go(func() {
		select {
		case <-p.Exited():
		case <-t.done:
			return
		}
		cancel()
		t.send(func() { t.exited(c) })
	})
	t.wg.Go(func() { t.heartbeat(ctx, c) })
}

// exited handles a worker's exit: a draining one leaves the table, a
// current one is restarted, after a back-off unless it had been healthy.
func (t *table) exited(c *child) {
	c.state = stateDown
	s := t.slots[c.slot]
	if s.cur != c {
		s.old = without(s.old, c)
		return
	}
	s.cur = nil
	if t.stopping || c.stopping {
		return
	}
	lived := time.Since(c.ready)
	if lived >= t.tm.healthyAfter && !c.stuck {
		s.backoff = 0
	} else {
		t.bump(s)
	}
	status := c.proc.ExitStatus()
	if c.stuck {
		status = "killed for not answering (" + status + ")"
	}
	t.log.Error("worker died", "worker", s.index, "pid", c.proc.PID(), "status", status,
		"lived", lived.Round(time.Millisecond), "restart_in", s.backoff)
	t.restartLater(s)
}

// bump doubles the slot's back-off, from backoffMin to backoffMax.
func (t *table) bump(s *slot) {
	s.backoff = min(max(2*s.backoff, t.tm.backoffMin), t.tm.backoffMax)
}

// restartLater starts a worker for the dead slot s now (no back-off) or
// once its back-off has passed, closing the slot's socket meanwhile.
func (t *table) restartLater(s *slot) {
	if s.starting || s.retry != nil {
		return // a start in flight (a reload's) or a restart already due
	}
	if s.backoff == 0 {
		t.startSlot(s, nil)
		return
	}
	t.closeSocket(s)
	s.retry = time.AfterFunc(s.backoff, func() {
		t.send(func() {
			s.retry = nil
			if !t.stopping && s.cur == nil && !s.starting {
				t.startSlot(s, nil)
			}
		})
	})
}

// closeSocket closes the master's copy of a slot's socket while the slot
// has no worker to serve it for a while (a back-off after a crash, a failed
// start or a stuck worker), so that new connections go to the live
// workers' sockets instead of waiting in a queue nobody accepts from
// (issue 10). The connections already queued are reset, or handed to the
// other sockets when net.ipv4.tcp_migrate_req is on. The dead worker's own
// copy died with it; a worker that is alive is never behind a closed
// socket: the master closes it only after the worker exited. The next
// start gets a socket that is bound but listens only once that worker is
// about to accept (Master.listenSlot).
func (t *table) closeSocket(s *slot) {
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
		t.log.Warn("worker socket closed until a worker is back", "worker", s.index)
	}
}

// startSlot starts a worker for s, on a fresh socket if it was closed;
// started handles the outcome. op is the reload it is for, or nil.
func (t *table) startSlot(s *slot, op *reloadOp) {
	if s.retry != nil {
		s.retry.Stop()
		s.retry = nil
	}
	if s.ln == nil {
		ln, err := t.listen(t.ctx)
		if err != nil {
			t.startFailed(s, op, fmt.Errorf("master: worker %d: reopen its socket: %w", s.index, err))
			return
		}
		s.ln = ln
	}
	s.starting = true
	ln := s.ln
	t.wg.Go(func() {
		p, err := t.starter.start(t.ctx, s.index, ln)
		if !t.send(func() { t.started(s, op, p, err) }) && p != nil {
			_ = p.Signal(syscall.SIGKILL)
		}
	})
}

// started installs a worker that became ready, or handles its failure.
func (t *table) started(s *slot, op *reloadOp, p process, err error) {
	s.starting = false
	if t.stopping {
		if err == nil && p != nil {
			t.adopt(s, p)
			t.stopChild(s.cur, ctl.StopShutdown, false, 0)
		}
		return
	}
	if err != nil {
		t.startFailed(s, op, err)
		return
	}
	old := s.cur
	t.adopt(s, p)
	switch {
	case op != nil && old != nil:
		old.state = stateStopping
		s.old = append(s.old, old)
		op.olds = append(op.olds, old)
		t.log.Info("worker replaced", "worker", s.index, "old_pid", old.proc.PID(), "pid", p.PID())
	default:
		s.restarts++
		t.log.Info("worker restarted", "worker", s.index, "pid", p.PID())
	}
	if op != nil {
		t.reloadNext(op)
	} else if t.reload != nil && t.reload.waitingFor == s {
		t.reloadNext(t.reload)
	}
}

// startFailed backs a slot off after a failed start, from the time of the
// failure (issue 10: it used to count from the dead worker's start, so a
// replacement that could not start was respawned at once, hundreds a
// second). A reload stops there; the slot's old worker, if alive, keeps
// serving.
func (t *table) startFailed(s *slot, op *reloadOp, err error) {
	t.bump(s)
	t.log.Error("worker start failed", "worker", s.index, "err", err, "retry_in", s.backoff)
	if s.cur == nil {
		t.restartLater(s)
	}
	if op == nil && t.reload != nil && t.reload.waitingFor == s {
		op = t.reload // it waited for this start to replace the slot's worker
	}
	if op != nil {
		op.err = fmt.Errorf("master: reload stopped at worker %d, the rest keep running: %w", s.index, err)
		t.drainOlds(op)
	}
}

// stopChild asks c to stop for reason, in a goroutine; exited removes it.
func (t *table) stopChild(c *child, reason ctl.StopReason, graceful bool, grace time.Duration) {
	if c.stopping {
		return
	}
	c.stopping, c.state = true, stateStopping
	c.cancel() // no heartbeat while it drains: stopProcess bounds it
	t.wg.Go(func() { stopProcess(c.proc, reason, graceful, grace, t.tm) })
}

func without(cs []*child, c *child) []*child {
	out := cs[:0]
	for _, x := range cs {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}

// errStopping is the answer to a request that comes while the cluster stops.
var errStopping = errors.New("master: stopping")
