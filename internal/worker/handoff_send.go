package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// prepareParallel is how many connections of a batch are detached and
// waited for at once.
const prepareParallel = 32

// busyRetry is how often a connection in the middle of a message is tried
// again during a hand-off.
const busyRetry = 10 * time.Millisecond

// handOff gives this worker's connections to the new worker listening on
// req.Name, in batches, until none is left or the time is up. A connection
// that cannot move (closing, TLS, busy past the deadline, refused by the
// receiver) stays here and drains with 1012 with the rest of the worker.
// If the receiver goes away mid-way, the batch in flight comes back and the
// hand-off stops there, with the reason in the result.
func (w *Worker) handOff(ctx context.Context, req ctl.HandoffRequest) ctl.HandoffResult {
	if why := w.handoffBlocker(); why != "" {
		return ctl.HandoffResult{Kept: w.gw.Len(), Error: why}
	}
	hf := w.opts.App.(app.Handoffer)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(req.TimeoutMillis)*time.Millisecond)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", "@"+req.Name)
	if err != nil {
		return ctl.HandoffResult{Kept: w.gw.Len(), Error: fmt.Sprintf("connect to the new worker: %v", err)}
	}
	uc := nc.(*net.UnixConn)
	defer uc.Close()
	if dl, ok := ctx.Deadline(); ok {
		uc.SetDeadline(dl)
	}
	s := sender{w: w, hf: hf, uc: uc}
	// The master had this worker stop accepting: a client still in its
	// handshake becomes a connection soon, and moves too.
	if err := w.gw.WaitHandshakes(ctx); err != nil {
		w.log.Warn("hand-off: handshakes still under way", "err", err)
	}
	todo := w.liveConns()
	size := handoffBatchSize()
	for len(todo) > 0 && ctx.Err() == nil {
		var busy []*gateway.Conn
		for len(todo) > 0 {
			n := min(len(todo), size)
			b, err := s.batch(ctx, todo[:n])
			busy = append(busy, b...)
			todo = todo[n:]
			if err != nil {
				s.res.Error = err.Error()
				s.res.Kept = w.gw.Len()
				return s.res
			}
		}
		todo = busy
		if len(todo) > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(busyRetry):
			}
		}
	}
	if err := gateway.SendHandoffBatch(uc, nil); err != nil && s.res.Error == "" {
		s.res.Error = err.Error()
	}
	s.res.Kept = w.gw.Len()
	w.log.Info("connections handed off", "moved", s.res.Moved, "kept", s.res.Kept)
	return s.res
}

// liveConns is every registered connection.
func (w *Worker) liveConns() []*gateway.Conn {
	infos := w.gw.Conns()
	out := make([]*gateway.Conn, 0, len(infos))
	for _, ci := range infos {
		if c := w.gw.Lookup(ci.ID); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// sender is one hand-off in progress on the old worker's side.
type sender struct {
	w   *Worker
	hf  app.Handoffer
	uc  *net.UnixConn
	res ctl.HandoffResult
}

// batch detaches cs, sends those it could and their states, and releases
// what the receiver took or reattaches what it did not. It returns the
// connections that were busy, to try again; an error ends the hand-off
// (what it had detached is reattached). What is sent to a detached
// connection is queued until its snapshot, which is taken for the whole
// batch right before it is sent: a message published after it reaches
// the connection only once the new worker has it in its rooms.
func (s *sender) batch(ctx context.Context, cs []*gateway.Conn) (busy []*gateway.Conn, err error) {
	type prepared struct {
		fd  int
		app []byte
		err error
	}
	// Each connection waits for its poller and its mailbox: many at once.
	res := make([]prepared, len(cs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(len(cs), prepareParallel) {
		wg.Go(func() {
			for i := range next {
				res[i].fd, res[i].app, res[i].err = s.prepare(ctx, cs[i])
			}
		})
	}
	for i := range cs {
		next <- i
	}
	close(next)
	wg.Wait()
	var sent []*gateway.Conn
	var fds []int
	var apps [][]byte
	for i, c := range cs {
		switch err := res[i].err; {
		case errors.Is(err, gateway.ErrHandoffBusy):
			busy = append(busy, c)
		case err != nil:
			// Not movable (closing, or its state would not encode): it
			// stays.
		default:
			sent, fds, apps = append(sent, c), append(fds, res[i].fd), append(apps, res[i].app)
		}
	}
	items := make([]gateway.HandoffItem, 0, len(sent))
	keep := sent[:0]
	for i, c := range sent {
		b, err := s.snapshot(c, apps[i])
		if err != nil {
			s.w.gw.Reattach(c)
			continue
		}
		keep = append(keep, c)
		items = append(items, gateway.HandoffItem{State: b, FD: fds[i]})
	}
	sent = keep
	if len(items) == 0 {
		return busy, nil
	}
	ok, err := s.exchange(items)
	for i, c := range sent {
		if err == nil && ok[i] {
			s.release(c)
			s.res.Moved++
		} else {
			s.w.gw.Reattach(c)
		}
	}
	return busy, err
}

func (s *sender) exchange(items []gateway.HandoffItem) ([]bool, error) {
	if err := gateway.SendHandoffBatch(s.uc, items); err != nil {
		return nil, err
	}
	return gateway.RecvHandoffAck(s.uc, len(items))
}

// prepare detaches c once its mailbox is idle and encodes its worker
// state (rooms, user, the application's), which nothing changes any more.
func (s *sender) prepare(ctx context.Context, c *gateway.Conn) (int, []byte, error) {
	fd, err := s.w.gw.Detach(ctx, c)
	if err != nil {
		return -1, nil, err
	}
	// The messages read before the detach are handled here, with what
	// they change (rooms, the app's value) and what they answer (queued
	// for the snapshot) carried over.
	err = s.w.idle(ctx, c)
	var app []byte
	if err == nil {
		app, err = s.w.encodeHanded(c, s.hf)
	}
	if err != nil {
		s.w.gw.Reattach(c)
		return -1, nil, err
	}
	return fd, app, nil
}

// snapshot encodes a detached connection's whole state.
func (s *sender) snapshot(c *gateway.Conn, app []byte) ([]byte, error) {
	st, err := s.w.gw.Snapshot(c)
	if err != nil {
		return nil, err
	}
	st.App = app
	b, err := st.MarshalBinary()
	if err != nil || len(b) > gateway.MaxHandoffOutbox+gateway.MaxHandoffApp {
		return nil, fmt.Errorf("worker: hand-off state of %s: %d bytes, %v", c.ID(), len(b), err)
	}
	return b, nil
}

// idle waits until c's mailbox has run every callback queued before now.
func (w *Worker) idle(ctx context.Context, c *gateway.Conn) error {
	_, box, _, ok := parts(c.Value)
	if !ok {
		return errHandedState
	}
	if box == nil {
		return nil // inline: the poller ran them before the detach
	}
	done := make(chan struct{})
	if !box.post(func() { close(done) }, 0) {
		return gateway.ErrHandoffBusy
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release forgets a connection the new worker took: no OnClose, no close
// event, no "left" message: for the cluster it did not end.
func (s *sender) release(c *gateway.Conn) {
	s.w.tokens.stop(c)
	s.w.hub.Remove(c)
	s.w.gw.Release(c)
}
