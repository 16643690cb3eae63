//go:build linux

package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// A hand-off moves a live plain TCP connection to another process: the
// old side detaches it from its poller (Detach: nothing is read or
// written any more, the state is snapshotted), sends the socket and the
// state (handoff_unix.go), and once the other side has it forgets it
// without OnClose (Release); if the other side fails, it takes it back
// (Reattach). The new side registers it under the same id and gives it to
// a poller (Import): what the client sent meanwhile waits in the kernel's
// socket buffer and is read there, once.

// ErrHandoffBusy: the connection is in the middle of a message (or
// inflating one), or its queued output is over MaxHandoffOutbox: try again
// after the poller's next round.
var ErrHandoffBusy = errors.New("gateway: connection busy; hand-off later")

// ErrNotHandable: the connection cannot be handed off at all: it is
// closing, or it is a TLS connection (crypto/tls's keys stay in this
// process), or served on a goroutine.
var ErrNotHandable = errors.New("gateway: connection cannot be handed off")

// detachReq asks a poller to detach c.
type detachReq struct {
	c    *Conn
	done chan detached
}

type detached struct {
	fd  int
	err error
}

// Detach takes c out of its poller between two messages and returns its
// socket (still owned by c: Release closes it, Reattach puts it back to
// use). From here on nothing is read from c or written to it; what is sent
// to it is queued for Snapshot, and a Close is ignored. ErrHandoffBusy asks
// to try again shortly.
func (s *Server) Detach(ctx context.Context, c *Conn) (int, error) {
	p, ok := c.tr.(*poller)
	if !ok {
		return -1, ErrNotHandable
	}
	r := &detachReq{c: c, done: make(chan detached, 1)}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return -1, ErrNotHandable
	}
	first := len(p.tasks) == 0 && len(p.detaches) == 0
	p.detaches = append(p.detaches, r)
	p.mu.Unlock()
	if first {
		p.notify()
	}
	select {
	case d := <-r.done:
		return d.fd, d.err
	case <-ctx.Done():
		// The poller answers anyway; a connection it detached meanwhile
		// is put back.
		go func() {
			if d := <-r.done; d.err == nil {
				s.Reattach(c)
			}
		}()
		return -1, ctx.Err()
	}
}

// detach runs on c's poller goroutine, which alone reads c.
func (p *poller) detach(c *Conn) detached {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.state != connOpen:
		return detached{err: ErrNotHandable}
	case !c.added || c.rd != nil || c.queuedLocked() > MaxHandoffOutbox/2:
		// Still in OnOpen, in the middle of a message, or far behind.
		return detached{err: ErrHandoffBusy}
	}
	if err := unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(c.fd), nil); err != nil {
		return detached{err: fmt.Errorf("gateway: epoll_ctl del: %w", err)}
	}
	c.setStateLocked(connHanded)
	p.set(c.fd, nil)
	c.added, c.events = false, 0
	c.waitOut = false
	c.stallSince.Store(0)
	return detached{fd: int(c.fd)}
}

// Snapshot is a detached connection's state for the other process: what
// its client sent of the next frame, what is queued for it (the first
// frame maybe partly written), its counters. It fails with ErrHandoffBusy
// when the queue grew past MaxHandoffOutbox meanwhile.
func (s *Server) Snapshot(c *Conn) (HandoffState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != connHanded {
		return HandoffState{}, ErrNotHandable
	}
	if c.queuedLocked() > MaxHandoffOutbox {
		return HandoffState{}, ErrHandoffBusy
	}
	st := HandoffState{
		ID: c.id, Remote: c.RemoteAddr(), Protocol: c.Subprotocol(), URI: c.RequestURI(), Header: c.Header(),
		Deflate: uint8(c.deflate), Created: c.created,
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(), MsgsIn: c.msgsIn.Load(), MsgsOut: c.msgsOut.Load(),
	}
	if kept := c.in.bytes(); len(kept) > 0 { // the poller no longer touches it
		st.Pending = append([]byte(nil), kept...)
	}
	if q := c.queuedLocked(); q > 0 {
		st.Outbox = make([]byte, 0, q)
		for _, f := range c.out.frames {
			st.Outbox = append(st.Outbox, f...)
		}
	}
	return st, nil
}

// Reattach puts a detached connection back in service after a failed
// hand-off: it joins a poller again, which writes what was queued
// meanwhile and reads on.
func (s *Server) Reattach(c *Conn) {
	p, _ := c.tr.(*poller)
	c.mu.Lock()
	if !c.setStateLocked(connOpen) {
		c.mu.Unlock()
		return
	}
	if c.hasFramesLocked() {
		c.waitOut = true // EPOLLOUT from the start: the poller writes the queue
		c.stallSince.Store(nowNano())
	}
	c.queuedTask = true
	c.mu.Unlock()
	p.handOver(c)
}

// Release forgets a detached connection the other process now serves: it
// closes this process's copy of the socket (the other has its own) and
// takes c out of the registry without OnClose: for the cluster the
// connection did not end.
func (s *Server) Release(c *Conn) {
	c.mu.Lock()
	if c.state != connHanded {
		c.mu.Unlock()
		return
	}
	c.setStateLocked(connClosed)
	c.releaseOutputLocked()
	unix.Close(int(c.fd))
	c.mu.Unlock()
	c.in = input{}
	s.mu.Lock()
	s.conns.del(c)
	s.k.endedIn += c.bytesIn.Load()
	s.k.endedOut += c.bytesOut.Load()
	s.live--
	s.signalEmptyLocked()
	s.mu.Unlock()
	s.door.release(clientKey(c.RemoteAddr()))
}

// restore puts st's input and output in c, which no other goroutine sees
// yet.
func (c *Conn) restore(st HandoffState) {
	if len(st.Pending) > 0 {
		c.in.set(append(make([]byte, 0, len(st.Pending)+minRead), st.Pending...))
	}
	if len(st.Outbox) > 0 {
		// Written when the poller adds it: EPOLLOUT is armed.
		w := c.srv.outputs.get()
		w.first[0] = st.Outbox
		w.frames = w.first[:1:1]
		w.queued = len(st.Outbox)
		c.out = w
		c.waitOut = true
		c.stallSince.Store(nowNano())
	}
}

// Import takes a connection another process handed off: its socket fd
// (this process owns it from here on, and closes it on failure) and its
// state, checked by UnmarshalBinary. attach runs before the connection is
// read or written (as OnOpen would, which does not run: the connection is
// open already); it sets Conn.Value and the worker's own state, and its
// error closes this process's copy of the socket, quietly. The door counts
// the connection without its limits: it is admitted already.
func (s *Server) Import(st HandoffState, fd int, attach func(*Conn) error) (*Conn, error) {
	if err := st.check(); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if s.opts.TLS != nil {
		unix.Close(fd)
		return nil, ErrNotHandable
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("gateway: import: %w", err)
	}
	p := s.pollerFor()
	if p == nil {
		unix.Close(fd)
		return nil, ErrNotHandable
	}
	c := allocConn(st.ID, nil, st.Remote)
	c.srv, c.deflate, c.created, c.tr, c.fd = s, wbits(st.Deflate), st.Created, p, int32(fd)
	if st.Protocol != "" || (st.URI != "" && st.URI != "/") || st.Header != nil {
		c.extra = &handshakeExtra{protocol: st.Protocol, uri: st.URI, header: st.Header}
	}
	c.bytesIn.Store(st.BytesIn)
	c.bytesOut.Store(st.BytesOut)
	c.msgsIn.Store(st.MsgsIn)
	c.msgsOut.Store(st.MsgsOut)
	c.lastRead.Store(time.Now().UnixNano())
	c.restore(st)
	c.setStateLocked(connHanded) // until Start: sends are queued, nothing written (not shared yet: no lock)
	c.queuedTask = true          // the poller ignores wake-ups until handOver
	s.mu.Lock()
	if s.conns.get(c.id) != nil || s.stopping {
		s.mu.Unlock()
		unix.Close(fd)
		return nil, fmt.Errorf("gateway: import %s: %w", c.id, ErrNotHandable)
	}
	s.conns.put(c)
	s.live++
	s.mu.Unlock()
	s.door.admitMoved(clientKey(c.RemoteAddr()))
	if attach != nil {
		if err := attach(c); err != nil {
			s.Release(c) // never served here: no OnClose
			return nil, fmt.Errorf("gateway: import %s: %w", c.id, err)
		}
	}
	return c, nil
}

// Start serves an imported connection: its poller writes what is queued
// and reads what the client sent meanwhile. Until Start, Release undoes the
// import quietly.
func (s *Server) Start(c *Conn) {
	c.mu.Lock()
	c.setStateLocked(connOpen)
	if c.hasFramesLocked() {
		c.waitOut = true
	}
	c.mu.Unlock()
	c.tr.(*poller).handOver(c)
}

// admitMoved counts a connection handed over from another process, which
// admitted it: limits are not checked again, so a hand-off never refuses.
func (d *door) admitMoved(client netip.Addr) {
	client = limitKey(client)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns++
	if d.perIP > 0 {
		d.byIP[client]++
	}
}

// WaitHandshakes returns once no connection accepted before is still in
// its handshake (each ends within the handshake timeout), or ctx's error:
// a hand-off that follows StopAccepting then sees every connection this
// server will have.
func (s *Server) WaitHandshakes(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.RLock()
		opening := s.opening
		s.mu.RUnlock()
		if opening <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gateway: %d handshakes still under way: %w", opening, ctx.Err())
		case <-t.C:
		}
	}
}
