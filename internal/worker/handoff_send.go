package worker

import (
	"context"
	"encoding/json"
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
	start := time.Now()
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
	// From here on the hub records where each stream's deliveries stand.
	w.hub.Track(true)
	defer w.hub.Track(false)
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
	w.log.Info("connections handed off", "moved", s.res.Moved, "kept", s.res.Kept, "took", time.Since(start).Round(time.Millisecond))
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
// connection is queued until its snapshot, which is taken once the
// receiver buffers the batch's streams (prepareBatch): the snapshot's
// positions (hub.Freeze) tell it what the queue holds.
func (s *sender) batch(ctx context.Context, cs []*gateway.Conn) (busy []*gateway.Conn, err error) {
	type prepared struct {
		fd  int
		hc  handedConn
		err error
	}
	// Each connection waits for its poller and its mailbox: many at once.
	res := make([]prepared, len(cs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(len(cs), prepareParallel) {
		wg.Go(func() {
			for i := range next {
				res[i].fd, res[i].hc, res[i].err = s.prepare(ctx, cs[i])
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
	var hcs []handedConn
	for i, c := range cs {
		switch err := res[i].err; {
		case errors.Is(err, gateway.ErrHandoffBusy):
			busy = append(busy, c)
		case err != nil:
			// Not movable (closing, or its state would not encode): it
			// stays.
		default:
			sent, fds, hcs = append(sent, c), append(fds, res[i].fd), append(hcs, res[i].hc)
		}
	}
	if len(sent) == 0 {
		return busy, nil
	}
	late, err := s.prepareBatch(ctx, sent, hcs)
	if err != nil {
		for _, c := range sent {
			s.w.gw.Reattach(c)
		}
		return busy, err
	}
	items := make([]gateway.HandoffItem, 0, len(sent))
	keep := sent[:0]
	var stay int
	var why error
	for i, c := range sent {
		var b []byte
		err := errInexactRoom
		if !anyLate(hcs[i], late) {
			b, err = s.snapshot(c, hcs[i])
		}
		if err != nil {
			s.w.gw.Reattach(c)
			stay, why = stay+1, err
			continue
		}
		keep = append(keep, c)
		items = append(items, gateway.HandoffItem{State: b, FD: fds[i]})
	}
	sent = keep
	if stay > 0 {
		s.w.log.Warn("hand-off: connections stay", "count", stay, "last_reason", why)
	}
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

// errInexactRoom: a room of the connection had not delivered as far as the
// receiver's: it stays.
var errInexactRoom = errors.New("worker: hand-off: a room's position is not known")

func (s *sender) exchange(items []gateway.HandoffItem) ([]bool, error) {
	if err := gateway.SendHandoffBatch(s.uc, items); err != nil {
		return nil, err
	}
	return gateway.RecvHandoffAck(s.uc, len(items))
}

// prepare detaches c once its mailbox is idle and takes its worker state
// (rooms, user, the application's), which nothing changes any more.
func (s *sender) prepare(ctx context.Context, c *gateway.Conn) (int, handedConn, error) {
	fd, err := s.w.gw.Detach(ctx, c)
	if err != nil {
		return -1, handedConn{}, err
	}
	// The messages read before the detach are handled here, with what
	// they change (rooms, the app's value) and what they answer (queued
	// for the snapshot) carried over.
	err = s.w.idle(ctx, c)
	if err == nil && s.w.hub.Keeping() {
		err = gateway.ErrHandoffBusy // its last message may wait to be kept: later
	}
	var hc handedConn
	if err == nil {
		hc, err = s.w.handedOf(c, s.hf)
	}
	if err != nil {
		s.w.gw.Reattach(c)
		return -1, handedConn{}, err
	}
	return fd, hc, nil
}

// snapshot encodes a detached connection's whole state, its queue and
// its positions taken together (hub.Freeze).
func (s *sender) snapshot(c *gateway.Conn, hc handedConn) ([]byte, error) {
	var st gateway.HandoffState
	cuts, err := s.w.hub.Freeze(c, func() (err error) {
		st, err = s.w.gw.Snapshot(c)
		return err
	})
	if err != nil {
		return nil, err
	}
	hc.Cuts = cuts
	if st.App, err = json.Marshal(hc); err != nil {
		return nil, fmt.Errorf("worker: hand-off state of %s: %w", c.ID(), err)
	}
	b, err := st.MarshalBinary()
	if err != nil || len(b) > gateway.MaxHandoffOutbox+gateway.MaxHandoffApp {
		return nil, fmt.Errorf("worker: hand-off state of %s: %d bytes, %v", c.ID(), len(b), err)
	}
	return b, nil
}

// idle waits until c's mailbox has run every callback queued before now.
func (w *Worker) idle(ctx context.Context, c *gateway.Conn) error {
	_, box, _, ok := w.handler.parts(c)
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
