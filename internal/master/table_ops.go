package master

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// heartbeat asks c every tm.heartbeat whether it is alive, over its control
// connection; a worker that has not answered for tm.stuckAfter (stopped
// with SIGSTOP, deadlocked) is reported to the loop, which kills it.
func (t *table) heartbeat(ctx context.Context, c *child) {
	tick := time.NewTicker(t.tm.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		callCtx, cancel := context.WithTimeout(ctx, t.tm.stuckAfter)
		err := c.proc.Call(callCtx, ctl.OpPing, nil, nil)
		timedOut := errors.Is(callCtx.Err(), context.DeadlineExceeded)
		cancel()
		var re *ctl.RemoteError
		switch {
		case err == nil || errors.As(err, &re):
			// It answered (a worker without OpPing says so: alive too).
		case ctx.Err() != nil:
			return
		case timedOut:
			t.send(func() { t.stuck(c) })
			return
		default:
			return // the connection ended: it is exiting, and exited follows
		}
	}
}

// stuck kills a current worker that stopped answering; exited then
// restarts it after a back-off, its socket closed meanwhile.
func (t *table) stuck(c *child) {
	if c.stopping || c.state == stateDown || t.slots[c.slot].cur != c {
		return
	}
	t.log.Error("worker not answering; killing it", "worker", c.slot, "pid", c.proc.PID(), "silent_for", t.tm.stuckAfter)
	c.stuck = true
	// Close our copy of its socket first: the socket then goes with the
	// process's own copy, as it exits, and no new connection is queued on
	// it between the worker's death and its exit event reaching us.
	t.closeSocket(t.slots[c.slot])
	_ = c.proc.Signal(syscall.SIGKILL)
}

// reloadOp is one reload in progress.
type reloadOp struct {
	graceful   bool
	grace      time.Duration
	next       int      // the next slot to replace
	waitingFor *slot    // a slot whose restart in flight it waits for
	olds       []*child // the workers replaced so far
	draining   bool
	err        error
	reply      chan error // capacity 1
}

// Reload replaces every worker: each slot's replacement is started and
// ready in turn, then every old worker stops accepting, then all of them
// stop as replaced (ctl.StopReplaced: their clients get 1012), gracefully
// after up to grace when asked. It returns
// once the old workers have exited. A replacement that fails to start ends
// the reload there: the slots not reached keep their workers.
func (t *table) Reload(graceful bool, grace time.Duration) error {
	op := &reloadOp{graceful: graceful, grace: grace, reply: make(chan error, 1)}
	if !t.send(func() { t.beginReload(op) }) {
		return errStopping
	}
	select {
	case err := <-op.reply:
		return err
	case <-t.done:
		return errStopping
	}
}

func (t *table) beginReload(op *reloadOp) {
	switch {
	case t.stopping:
		op.reply <- errStopping
	case t.reload != nil:
		t.queued = append(t.queued, op)
	default:
		t.reload = op
		t.log.Info("reload", "graceful", op.graceful, "grace", op.grace)
		t.reloadNext(op)
	}
}

// reloadNext starts the next slot's replacement, or drains the old workers
// once every slot has its new one.
func (t *table) reloadNext(op *reloadOp) {
	op.waitingFor = nil
	if op.draining {
		return
	}
	if op.next == len(t.slots) {
		t.drainOlds(op)
		return
	}
	s := t.slots[op.next]
	if s.starting {
		// A restart is in flight: it may run the old binary, so wait for
		// it and replace what it started (started calls back).
		op.waitingFor = s
		return
	}
	op.next++
	t.startSlot(s, op)
}

// drainOlds stops the workers op replaced, then ends op.
func (t *table) drainOlds(op *reloadOp) {
	if op.draining {
		return
	}
	op.draining = true
	olds := op.olds
	news := make([]process, len(olds)) // each old worker's slot's new one, for a hand-off
	for i, c := range olds {
		c.stopping, c.state = true, stateStopping
		c.cancel()
		if cur := t.slots[c.slot].cur; cur != nil && !cur.stopping {
			news[i] = cur.proc
		}
	}
	handoff := t.handoff && !op.graceful
	t.wg.Go(func() {
		// Every old worker stops accepting before any closes a client, so
		// a client bounced by this reload reconnects to a new worker, never
		// to the next old one (issue 10).
		var wg sync.WaitGroup
		for _, c := range olds {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), t.tm.stopCall)
				defer cancel()
				_ = c.proc.Call(ctx, ctl.OpStopAccepting, nil, nil)
			})
		}
		wg.Wait()
		var herr error
		if handoff {
			// Then each hands what it can to its slot's new worker; the
			// rest drains with 1012 below (issue 15).
			herr = handOffAll(olds, news, t.tm, t.log)
		}
		for _, c := range olds {
			wg.Go(func() { stopProcess(c.proc, ctl.StopReplaced, op.graceful, op.grace, t.tm) })
		}
		wg.Wait()
		t.send(func() {
			if op.err == nil {
				op.err = herr
			}
			t.finishReload(op)
		})
	})
}

func (t *table) finishReload(op *reloadOp) {
	// The old workers have exited; their exit events may still be on the
	// way, and Reload's caller must not see them listed.
	for _, c := range op.olds {
		t.exited(c)
	}
	op.reply <- op.err
	if t.reload == op {
		t.reload = nil
	}
	if len(t.queued) > 0 && !t.stopping {
		next := t.queued[0]
		t.queued = t.queued[1:]
		t.beginReload(next)
	}
}

// Stop closes every slot's socket, so new connections are refused, and
// stops every worker at once, as ctl.StopShutdown (their clients get 1001),
// gracefully after up to grace when asked. It returns once every worker has
// exited. It is safe to call more than once.
func (t *table) Stop(graceful bool, grace time.Duration) {
	t.send(func() { t.stop(graceful, grace) })
	<-t.done
	t.wg.Wait()
}

func (t *table) stop(graceful bool, grace time.Duration) {
	if t.stopping {
		return
	}
	t.stopping = true
	t.cancel() // starts in flight give up, heartbeats end
	for _, op := range t.queued {
		op.reply <- errStopping
	}
	t.queued = nil
	for _, s := range t.slots {
		if s.retry != nil {
			s.retry.Stop()
			s.retry = nil
		}
		if s.ln != nil {
			s.ln.Close()
			s.ln = nil
		}
		for _, c := range append([]*child{s.cur}, s.old...) {
			if c != nil {
				t.stopChild(c, ctl.StopShutdown, graceful, grace)
			}
		}
	}
}

// do runs f on the loop and waits for it; false when the loop has ended.
func (t *table) do(f func()) bool {
	ran := make(chan struct{})
	if !t.send(func() { f(); close(ran) }) {
		return false
	}
	<-ran
	return true
}

// children lists the workers, the slots' current ones (or, for a slot
// without one, its last, as down or starting) first, then the draining ones.
func (t *table) children() []childRef {
	var out []childRef
	t.do(func() {
		ref := func(c *child, s *slot) childRef {
			return childRef{proc: c.proc, slot: s.index, pid: c.proc.PID(), state: c.state, restarts: s.restarts, ready: c.ready}
		}
		for _, s := range t.slots {
			switch {
			case s.cur != nil:
				out = append(out, ref(s.cur, s))
			case s.last != nil:
				r := ref(s.last, s)
				r.proc, r.state = nil, stateDown
				if s.starting {
					r.state = stateStarting
				}
				out = append(out, r)
			}
		}
		for _, s := range t.slots {
			for _, c := range s.old {
				out = append(out, ref(c, s))
			}
		}
	})
	return out
}
