package gateway

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// The goroutine engine, for TLS connections (crypto/tls needs a net.Conn):
// one reader goroutine per connection for its whole life, feeding the frame
// core through a readBufferSize buffer, and a writer goroutine while output
// is queued. Timeouts are the net.Conn's deadlines.

// readBufferSize is the goroutine engine's per-connection read buffer.
const readBufferSize = 1024

// netConn is the transport of a connection on the goroutine engine (TLS,
// or a socket the pollers could not take). A polled Conn has none, which
// keeps 32 bytes out of every idle connection.
type netConn struct {
	net.Conn
	once sync.Once
	gone chan struct{} // closed when TCP is closed

	room     chan struct{} // capacity 1: the writer tells a waiting reader the queue drained
	inflight int           // bytes of the batch the writer holds, still to write; under Conn.mu
	wantRoom bool          // the reader waits for room; under Conn.mu
}

// runOnGoroutine runs c on the calling goroutine to its end: OnOpen, the
// read loop, OnClose.
func (s *Server) runOnGoroutine(c *Conn, nc net.Conn) {
	c.g = &netConn{Conn: nc, gone: make(chan struct{}), room: make(chan struct{}, 1)}
	s.register(c)
	code, reason := ws.StatusCode(0), ""
	if err := s.handler.OnOpen(c); err != nil {
		code, reason = closeFor(err)
		c.startClose(code, reason, true)
		c.drain()
	} else {
		s.closeIfStopping(c)
		code, reason = c.readLoop()
	}
	s.end(c, code, reason)
}

// readLoop reads frames until the connection ends and returns the close code
// and reason to report to OnClose. It runs on the connection's own goroutine.
func (c *Conn) readLoop() (ws.StatusCode, string) {
	defer func() {
		c.rd.release() // the pools get back what an unfinished message held
		c.rd = nil
	}()
	if err := c.consumePending(); err != nil {
		return c.endRead(err)
	}
	buf := make([]byte, readBufferSize)
	for {
		c.waitForRoom()
		c.extendIdle()
		if err := c.readOnce(c.g.Read, buf); err != nil {
			return c.endRead(err)
		}
	}
}

// waitForRoom holds the reader while more than Options.pauseReadAt is
// queued for c, until the writer has it down to resumeReadAt or TCP is
// closed, as a poller takes EPOLLIN off (see pauseReadAt). A client that
// never reads is cut by the writer's WriteTimeout, which closes TCP.
func (c *Conn) waitForRoom() {
	o := &c.srv.opts
	c.mu.Lock()
	if c.queued <= o.pauseReadAt() {
		c.mu.Unlock()
		return
	}
	for c.writing && c.queued > o.resumeReadAt() {
		c.g.wantRoom = true
		c.mu.Unlock()
		select {
		case <-c.g.room:
		case <-c.g.gone:
			return // the read fails and ends the connection
		}
		c.mu.Lock()
	}
	c.g.wantRoom = false
	c.mu.Unlock()
}

// extendIdle moves the read deadline forward unless a close is under way
// (then the deadline bounds the wait for the client's close frame).
func (c *Conn) extendIdle() {
	if c.srv.opts.IdleTimeout < 0 {
		return
	}
	c.mu.Lock()
	closing := c.closeSent
	c.mu.Unlock()
	if !closing {
		c.g.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
	}
}

// endRead finishes the connection after the read loop stopped with err and
// returns the code to report.
func (c *Conn) endRead(err error) (ws.StatusCode, string) {
	c.mu.Lock()
	sent, code, why := c.closeSent, c.closeCode, c.closeWhy
	c.mu.Unlock()
	switch {
	case errors.Is(err, errPeerClosed):
		// The handshake is complete: our echo (or our own earlier close
		// frame) is queued; close TCP once it is written (RFC 6455 §7.1.1:
		// the server closes first).
		c.mu.Lock()
		c.closeAfterFlushLocked(false)
		c.mu.Unlock()
		select {
		case <-c.g.gone:
		case <-time.After(c.srv.opts.CloseTimeout):
			c.closeTCP()
		}
		return code, why
	case sent:
		// We closed first; the client never answered, or answered and then
		// dropped TCP. Report our code.
	case isTimeout(err):
		// Nothing read for IdleTimeout, not even a pong.
		code, why = ws.StatusGoingAway, "idle timeout"
		c.startClose(code, why, true)
	case isNetErr(err):
		// The client vanished without a close frame.
		c.closeTCP()
		return ws.StatusAbnormalClosure, ""
	default:
		code, why = closeFor(err)
		c.srv.log.Debug("failing connection", "conn", c.id, "code", code, "err", err)
		c.startClose(code, why, true)
	}
	c.mu.Lock()
	c.closeAfterFlushLocked(true)
	c.mu.Unlock()
	c.drain()
	return code, why
}

// drain discards what the client still sends until it closes its side, for
// at most CloseTimeout and a bounded number of bytes, then closes TCP.
func (c *Conn) drain() {
	c.g.SetReadDeadline(time.Now().Add(c.srv.opts.CloseTimeout))
	io.Copy(io.Discard, io.LimitReader(c.g, drainLimit))
	c.closeTCP()
}

// drainLimit bounds what a lingering close reads from a client that keeps
// sending.
const drainLimit = 1 << 20

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isNetErr reports whether err came from the transport rather than from
// the frame core (syscall.Errno has a Timeout method too).
func isNetErr(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) ||
		errors.Is(err, net.ErrClosed)
}

// halfClose sends FIN after the close frame but keeps reading, so that data
// the client sent meanwhile is drained rather than answered with a reset
// that could destroy the close frame in flight (a lingering close).
func (c *Conn) halfClose() {
	if tc, ok := c.g.Conn.(interface{ CloseWrite() error }); ok {
		if tc.CloseWrite() == nil {
			return
		}
	}
	c.closeTCP()
}

// closeTCP closes the socket once; the reader and the writer see errors.
func (c *Conn) closeTCP() {
	c.g.once.Do(func() {
		c.g.Close()
		close(c.g.gone)
	})
}

// writeLoop writes everything queued and exits when the queue is empty.
// It is the only goroutine that writes c.g. The batch it writes stays
// counted in Conn.queued (and is the frame being written that enqueue's
// backlog leaves out) until it is written.
func (c *Conn) writeLoop() {
	defer c.srv.wg.Done()
	for {
		c.mu.Lock()
		if len(c.outbox) == 0 {
			c.writing = false
			c.outbox = nil // an idle connection keeps no buffer
			if c.closing {
				c.finishTCPLocked()
			}
			c.mu.Unlock()
			return
		}
		batch, n := c.outbox, c.queued
		c.outbox, c.pongLast, c.g.inflight = nil, false, n
		c.mu.Unlock()

		if err := c.writeBatch(batch, n); err != nil {
			c.srv.log.Debug("write failed", "conn", c.id, "err", err)
			c.srv.sendFailures.Add(1)
			c.mu.Lock()
			c.outbox, c.queued, c.writing, c.g.inflight = nil, 0, false, 0
			c.closeSent = true
			c.mu.Unlock()
			c.closeTCP()
			return
		}
	}
}

// writeChunk is the most one write deadline covers: a client that takes
// a large frame slowly but steadily is not cut by WriteTimeout, as on a
// poller, where every byte taken restarts it.
const writeChunk = 64 << 10

// writeBatch writes the n bytes of batch: in one writev when they fit in
// a chunk, else chunk by chunk, each with its own deadline.
func (c *Conn) writeBatch(batch net.Buffers, n int) error {
	if n <= writeChunk {
		c.g.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
		if _, err := batch.WriteTo(c.g.Conn); err != nil {
			return err
		}
		c.wrote(n)
		return nil
	}
	for _, b := range batch {
		for len(b) > 0 {
			k := min(len(b), writeChunk)
			c.g.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
			if _, err := c.g.Conn.Write(b[:k]); err != nil {
				return err
			}
			c.wrote(k)
			b = b[k:]
		}
	}
	return nil
}

// wrote accounts for n bytes written by the writer goroutine and wakes a
// reader that waits for the queue to drain.
func (c *Conn) wrote(n int) {
	c.bytesOut.Add(uint64(n))
	c.mu.Lock()
	c.queued -= n
	c.g.inflight -= n
	if c.g.wantRoom && c.queued <= c.srv.opts.resumeReadAt() {
		c.g.wantRoom = false
		select {
		case c.g.room <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
}
