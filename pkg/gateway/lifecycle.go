package gateway

import (
	"time"

	"github.com/gobwas/ws"
)

// connState is where a connection is in its life, the same on both
// engines. It is guarded by Conn.mu and changes only in setStateLocked,
// forward only, along these steps:
//
//	               Close; the client's close frame (echoed); fail
//	connOpen ───────────────────────────────────────────► connCloseSent
//	                                                       │         │
//	                          fail; no answer by closeBy   │         │ the client's close frame:
//	                          (goroutine engine)           ▼         ▼ the handshake is complete
//	                                              connFailing     connCloseDone
//	              queue written: half-close TCP,    │                 │ queue written:
//	              drain until the client closes,    │                 │ close TCP
//	              drainLimit bytes or closeBy       ▼                 ▼
//	                                              connClosed ◄────────┘  OnClose runs, once
//
//	any state before connKilled ── a timeout, a write error, an abort ──► connKilled:
//	                                   the engine closes the socket at once ──► connClosed
//	any state ── the client is gone, the poller stops ──► connClosed
//
// fail (a protocol error, a slow client, OnOpen refusing, the idle
// timeout) takes both first steps at once: its close frame is queued, then
// the connection is failing.
//
// A connection that reaches connKilled or connClosed from connOpen sent no
// close frame and reports 1006 (RFC 6455 §7.1.5); every other one reports
// the code of the close frame queued first, ours or the client's.
//
// What is not the connection's life stays in flags of its own, each
// orthogonal to the state: reading paused for a backlog (the poller's
// interest, the goroutine engine's wantRoom), a writer goroutine running,
// a full socket (waitOut), a poller's flush held while it reads (holdFlush).
type connState uint8

const (
	// connOpen: messages flow both ways.
	connOpen connState = iota
	// connCloseSent: a close frame is queued, ours or the echo of the
	// client's: no data frame follows it, and messages that still come
	// are dropped (§5.5.1). Reading goes on for the client's close frame,
	// until Conn.closeBy.
	connCloseSent
	// connCloseDone: both close frames were seen. Nothing more is read;
	// TCP is closed once the queue is written (§7.1.1: the server closes
	// first).
	connCloseDone
	// connFailing: the connection is failed (§7.1.7): its close frame is
	// queued, TCP is half-closed once the queue is written, and what the
	// client still sends is read and dropped (a lingering close).
	connFailing
	// connKilled: the socket is to be closed at once, whatever is queued.
	connKilled
	// connClosed: the socket is closed; OnClose runs, once.
	connClosed
	// connHanded: the connection is being handed to another process
	// (handoff.go): out of its poller, nothing read or written. It goes
	// back to connOpen when the hand-off fails (Reattach), or is closed
	// (Release, no OnClose) once the other process has it.
	connHanded
)

// setStateLocked moves c to next when that is one of the steps of the
// diagram on connState and reports whether it did; any other step leaves c
// as it is, so a second close of any kind is a no-op. c.mu is held.
func (c *Conn) setStateLocked(next connState) bool {
	var legal bool
	switch c.state {
	case connOpen:
		legal = next == connCloseSent || next == connKilled || next == connClosed || next == connHanded
	case connHanded:
		legal = next == connOpen || next == connClosed
	case connCloseSent:
		legal = next > connCloseSent
	case connCloseDone, connFailing:
		// A failing connection that then reads the client's close frame
		// stays failing: it drains until the client closes.
		legal = next == connKilled || next == connClosed
	case connKilled:
		legal = next == connClosed
	}
	if !legal {
		return false
	}
	if c.state == connOpen && (next == connKilled || next == connClosed) {
		c.closeCode, c.closeWhy = ws.StatusAbnormalClosure, nil
	}
	c.state = next
	return true
}

// closingLocked reports whether a close frame is queued or the
// connection is past it: no data frame may be queued, and messages read
// are dropped. c.mu is held.
func (c *Conn) closingLocked() bool { return c.state != connOpen }

// startClose queues a close frame unless one was queued already. With now
// set, TCP is closed as soon as the frame is written (failing the connection,
// RFC 6455 §7.1.7); otherwise the reader waits for the client's close frame,
// bounded by CloseTimeout.
func (c *Conn) startClose(code ws.StatusCode, reason string, now bool) {
	c.mu.Lock()
	first := c.queueCloseLocked(code, reason)
	if now {
		c.closeAfterFlushLocked(connFailing)
	}
	c.mu.Unlock()
	if first && !now {
		c.tr.awaitClose(c) // wake the reader if the client never answers (§7.1.1)
	}
}

// fail closes c at once for err, with the code closeFor maps err to.
func (c *Conn) fail(err error) {
	code, why := closeFor(err)
	c.srv.log.Debug("failing connection", "conn", c.id, "code", code, "err", err)
	c.startClose(code, why, true)
}

// queueCloseLocked queues a close frame with code and reason, the first
// step out of connOpen, and starts the clock of the close handshake; it
// reports false, queueing nothing, when a close frame was queued before.
// c.mu is held.
func (c *Conn) queueCloseLocked(code ws.StatusCode, reason string) bool {
	if !c.setStateLocked(connCloseSent) {
		return false
	}
	c.closeCode, c.closeWhy = code, nil
	if reason != "" {
		c.closeWhy = &reason // a pointer: Conn keeps 8 bytes, not 16, for what few connections have
	}
	c.closeBy.Store(time.Now().Add(c.srv.opts.CloseTimeout).UnixNano())
	c.appendLocked(closeFrame(code, reason))
	return true
}

// closeAfterFlushLocked moves c to next, connCloseDone or connFailing, and
// has its engine close (connCloseDone) or half-close (connFailing) TCP once
// the queue is written, at once when nothing is queued. c.mu is held.
func (c *Conn) closeAfterFlushLocked(next connState) {
	if c.setStateLocked(next) {
		c.tr.shutLocked(c)
	}
}

// kill closes c's socket soon, without a close handshake: its client
// stopped reading (write timeout), never finished the close handshake, or
// the server is shutting down and out of time.
func (c *Conn) kill() {
	c.mu.Lock()
	killed := c.setStateLocked(connKilled)
	c.mu.Unlock()
	if killed {
		c.tr.abort(c)
	}
}

// endLocked moves c to connClosed and returns the code and reason its
// OnClose reports; ok is false when it was closed before. c.mu is held.
func (c *Conn) endLocked() (code ws.StatusCode, why string, ok bool) {
	if !c.setStateLocked(connClosed) {
		return 0, "", false
	}
	if c.closeWhy != nil {
		why = *c.closeWhy
	}
	return c.closeCode, why, true
}

// shuttingLocked reports whether TCP is to be closed (connCloseDone) or
// half-closed (connFailing) once the queue is written. c.mu is held.
func (c *Conn) shuttingLocked() bool { return c.state == connCloseDone || c.state == connFailing }
