//go:build linux

package gateway

import (
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// epollState is a poller connection's share of Conn.mu. Its flags are not
// the connection's life (that is Conn.state): they say how the poller
// serves it meanwhile.
type epollState struct {
	added      bool   // in the poller's epoll set
	waitOut    bool   // the socket was full: EPOLLOUT is armed, the poller goes on
	holdFlush  bool   // the poller is consuming input and flushes afterwards
	queuedTask bool   // in the poller's task list; guarded by poller.mu
	events     uint32 // the interest registered
}

// service looks at c after a wake-up: adds a new connection to the epoll
// set, closes one whose close is over or that was killed.
func (p *poller) service(c *Conn) {
	c.mu.Lock()
	if c.state == connClosed || c.state == connHanded {
		c.mu.Unlock()
		return
	}
	if !c.added {
		// Events set before the connection was added: the socket is in
		// the set already, with that interest (openPolled's here).
		in := c.events
		c.added, c.events = true, 0
		p.set(c.fd, c)
		c.events = c.interestLocked()
		ev := unix.EpollEvent{Events: c.events, Fd: c.fd}
		var err error
		switch {
		case in == 0:
			err = rawEpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(c.fd), &ev)
		case in != c.events:
			err = rawEpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(c.fd), &ev)
		}
		if err != nil {
			p.srv.log.Error("epoll_ctl add failed", "conn", c.id, "err", err)
			c.setStateLocked(connKilled)
		}
		if c.state == connFailing {
			c.in = input{} // failing already (OnOpen refused): nothing to read
		}
		if len(c.in.bytes()) > 0 && c.state != connKilled {
			// The frames the client sent right behind its request.
			c.holdFlush = true
			c.mu.Unlock()
			err := c.consumePending()
			c.mu.Lock()
			p.endHoldLocked(c)
			if err != nil {
				c.mu.Unlock()
				p.readFailed(c, err)
				c.mu.Lock()
			}
		}
	}
	done := c.state == connKilled || c.state == connCloseDone && !c.hasFramesLocked()
	c.mu.Unlock()
	if done {
		p.finish(c)
	} else if c.rd.busy() {
		p.readable(c, false) // a message being inflated goes on (inflate.go)
	}
}

// interestLocked is the readiness c waits for: no reading once the close
// handshake is complete, nor while reading is paused. c.mu is held.
func (c *Conn) interestLocked() uint32 {
	var ev uint32
	if c.state != connCloseDone && !c.readPausedLocked() {
		ev |= unix.EPOLLIN
	}
	if c.waitOut {
		ev |= unix.EPOLLOUT
	}
	return ev
}

// readPausedLocked reports whether c is not to be read for now: more
// than half the send buffer is queued for it (see pauseReadAt). The pause
// is kept in the registration itself: EPOLLIN is off. c.mu is held.
func (c *Conn) readPausedLocked() bool {
	limit := c.srv.opts.pauseReadAt()
	if c.added && c.events&unix.EPOLLIN == 0 {
		limit = c.srv.opts.resumeReadAt()
	}
	return c.queuedLocked() > limit
}

// updateInterestLocked changes the registration when what c waits for
// changed. c.mu is held.
func (p *poller) updateInterestLocked(c *Conn) {
	want := c.interestLocked()
	if !c.added || c.state >= connKilled || want == c.events {
		return
	}
	c.events = want
	ev := unix.EpollEvent{Events: want, Fd: c.fd}
	if err := rawEpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(c.fd), &ev); err != nil {
		c.srv.log.Error("epoll_ctl mod failed", "conn", c.id, "err", err)
		p.killLocked(c)
	}
}

// readable handles a read readiness (or a hang-up) of c.
func (p *poller) readable(c *Conn, hup bool) {
	c.mu.Lock()
	switch st := c.state; {
	case st == connClosed:
		c.mu.Unlock()
		return // closed earlier in this batch of events
	case st == connKilled, st == connCloseDone:
		c.mu.Unlock()
		if hup || st == connKilled {
			p.finish(c) // the peer is gone, or the socket is to go now
		}
		return
	case !hup && c.events&unix.EPOLLIN == 0:
		c.mu.Unlock() // paused since epoll_wait returned; EPOLLIN fires again on resume
		return
	case st == connFailing:
		c.mu.Unlock()
		p.discard(c)
		return
	}
	c.holdFlush = true
	c.mu.Unlock()
	err := c.readOnce(c.readFD, p.buf)
	c.mu.Lock()
	p.endHoldLocked(c)
	c.mu.Unlock()
	if err != nil {
		p.readFailed(c, err)
	}
}

// endHoldLocked writes what the poller's callbacks queued while it was
// consuming input, in one writev. c.mu is held.
func (p *poller) endHoldLocked(c *Conn) {
	c.holdFlush = false
	if c.hasFramesLocked() && !c.waitOut {
		p.flushLocked(c)
	}
}

// readFD reads once from the socket: (0, nil) when nothing is there.
func (c *Conn) readFD(b []byte) (int, error) {
	for {
		n, err := rawRead(int(c.fd), b)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, nil
		case err != nil:
			return 0, err
		case n == 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// discard reads and drops what a failing client still sends (a lingering
// close, see netconn.go drain) until it closes its side, drainLimit bytes
// or the sweeper's closeBy deadline.
func (p *poller) discard(c *Conn) {
	n, err := c.readFD(p.buf)
	c.drained += int32(n)
	if err != nil || c.drained > drainLimit {
		p.finish(c)
	}
}

// readFailed ends reading c after err, as netconn.go's endRead does for the
// goroutine engine, without blocking: what is left is a state the writer,
// the poller or the sweeper completes.
func (p *poller) readFailed(c *Conn, err error) {
	switch {
	case errors.Is(err, errPeerClosed):
		// The handshake is complete: our echo (or our own earlier close
		// frame) is queued; close TCP once it is written (RFC 6455 §7.1.1:
		// the server closes first). Nothing more is read.
		c.mu.Lock()
		c.closeBy.Store(nowNano() + int64(c.srv.opts.CloseTimeout))
		c.closeAfterFlushLocked(connCloseDone) // EPOLLIN off (shutLocked)
		c.mu.Unlock()
	case isNetErr(err):
		// The client vanished, with or without answering our close frame.
		p.finish(c)
	default:
		c.fail(err)
	}
}

// writable continues a write the socket could not take at once.
func (p *poller) writable(c *Conn) {
	c.mu.Lock()
	if c.waitOut && c.state < connKilled {
		p.flushLocked(c)
	}
	// A message paused in the middle of its inflating (its reading was
	// paused for a backlog, see readPausedLocked) goes on once reading is
	// back: its bytes were read already, so no EPOLLIN may come for it.
	resume := c.events&unix.EPOLLIN != 0 && c.rd.busy()
	c.mu.Unlock()
	if resume {
		p.readable(c, false)
	}
}

// maxIovec bounds one writev (IOV_MAX on Linux).
const maxIovec = 1024

// writeTurn bounds what one flush writes to one socket, as pollBufferSize
// bounds a read: the kernel's copy of a 10 MiB frame into a socket with
// room for 4 MiB held a poller 34 ms on a cold start (the kernel's pages
// for the socket buffer), and every other connection of the poller with
// it. The rest goes out on the next turns.
const writeTurn = 256 << 10

// flushLocked writes the queue with non-blocking writes, several frames in
// one writev, until it is empty, the socket is full or writeTurn is
// written (frames are cut only when one alone is larger than what is left
// of the turn); then EPOLLOUT is armed and the poller goes on when there
// is room (at once when only the turn was over). c.mu is held.
func (p *poller) flushLocked(c *Conn) {
	turn := 0
	for c.hasFramesLocked() && c.state < connKilled {
		var n int
		var err error
		frames := c.out.frames
		left := writeTurn - turn
		// The frames that fit in what is left of the turn, whole.
		k, sum := 0, 0
		for k < len(frames) && k < maxIovec && sum+len(frames[k]) <= left {
			sum += len(frames[k])
			k++
		}
		switch {
		case left <= 0:
			err = unix.EAGAIN // the next turn, after the poller's other connections
		case k <= 1:
			n, err = rawWrite(int(c.fd), frames[0][:min(len(frames[0]), left)])
		default:
			n, err = unix.Writev(int(c.fd), frames[:k])
		}
		if n > 0 {
			turn += n
			c.wroteLocked(n)
		}
		switch {
		case err == nil, err == unix.EINTR:
		case err == unix.EAGAIN:
			if !c.waitOut {
				c.waitOut = true
				c.stallSince.Store(nowNano())
			}
			p.updateInterestLocked(c) // EPOLLOUT on, and EPOLLIN back if the queue drained enough
			return
		default:
			c.srv.log.Debug("write failed", "conn", c.id, "err", err)
			c.srv.sendFailures.Add(1)
			p.killLocked(c)
			return
		}
	}
	if c.state >= connKilled {
		return
	}
	c.releaseOutputLocked() // an idle connection keeps no write state
	if c.waitOut {
		c.waitOut = false
		c.stallSince.Store(0)
	}
	p.updateInterestLocked(c) // EPOLLOUT off; EPOLLIN back if reading was paused
	if c.shuttingLocked() {
		p.shutNowLocked(c)
	}
}

// wroteLocked drops n written bytes from the head of the queue. c.mu is held.
func (c *Conn) wroteLocked(n int) {
	w := c.out
	if c.pongLast && n > w.queued-len(w.frames[len(w.frames)-1]) {
		c.pongLast = false // the write reached the last frame, a pong: it stays
	}
	w.queued -= n
	c.bytesOut.Add(uint64(n))
	if c.waitOut {
		c.stallSince.Store(nowNano()) // progress: the write timeout starts again
	}
	for n > 0 {
		if n < len(w.frames[0]) {
			w.frames[0] = w.frames[0][n:]
			return
		}
		n -= len(w.frames[0])
		w.frames[0] = nil
		w.frames = w.frames[1:]
	}
}

// killLocked has the poller close c's socket soon, without a close
// handshake: a write failed. c.mu is held.
func (p *poller) killLocked(c *Conn) {
	if c.setStateLocked(connKilled) {
		c.releaseOutputLocked()
		p.wake(c)
	}
}

// finish closes c's socket and ends the connection: it leaves the registry,
// then OnClose runs, with the close code sent or received, or 1006.
func (p *poller) finish(c *Conn) {
	c.mu.Lock()
	code, why, ok := c.endLocked()
	if !ok {
		c.mu.Unlock()
		return // finished before
	}
	c.releaseOutputLocked()
	c.waitOut = false
	c.stallSince.Store(0)
	c.closeBy.Store(0)
	if c.added {
		p.set(c.fd, nil)
	}
	rawClose(int(c.fd)) // leaves the epoll set with it
	c.mu.Unlock()
	c.rd.release() // the pools get back what an unfinished message held
	c.rd, c.in = nil, input{}
	c.srv.end(c, code, why)
}

// The poller's side of transport.

// clock is the poller's clock, read once per wake-up: c's reads run on
// its poller.
func (p *poller) clock() int64 { return p.now }

func (p *poller) inflightLocked(*Conn) int { return 0 }

// writeLocked writes at once unless the socket is full or the poller
// flushes after reading, and stops reading c while too much is queued.
func (p *poller) writeLocked(c *Conn) {
	if c.state == connHanded {
		return // queued for the hand-off's snapshot (handoff_linux.go)
	}
	if c.queuedLocked() > c.srv.opts.pauseReadAt() {
		p.updateInterestLocked(c) // stop reading until it drains
	}
	if !c.waitOut && (!c.holdFlush || c.queuedLocked() >= holdFlushMax) {
		p.flushLocked(c)
	}
}

// shutLocked takes EPOLLIN off once the handshake is complete, and shuts
// at once when nothing is queued; else flushLocked does when the queue is
// written.
func (p *poller) shutLocked(c *Conn) {
	p.updateInterestLocked(c)
	if !c.hasFramesLocked() {
		p.shutNowLocked(c)
	}
}

// shutNowLocked half-closes a failing connection's socket, sending FIN
// after the close frame and draining what comes (a lingering close, see
// discard), bounded by closeBy; else has the poller close it and run
// OnClose. c.mu is held.
func (p *poller) shutNowLocked(c *Conn) {
	if c.state == connFailing {
		unix.Shutdown(int(c.fd), unix.SHUT_WR)
		c.closeBy.Store(nowNano() + int64(c.srv.opts.CloseTimeout)) // the drain's bound
		return
	}
	p.wake(c)
}

// awaitClose: the sweeper watches closeBy.
func (p *poller) awaitClose(*Conn) {}

// abort has the poller close the socket of c, which is in connKilled.
func (p *poller) abort(c *Conn) { p.wake(c) }
