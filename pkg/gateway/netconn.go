package gateway

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// The goroutine engine, for TLS connections (crypto/tls needs a net.Conn):
// one reader goroutine per connection for its whole life, feeding the frame
// core through a readBufferSize buffer, and a writer goroutine while output
// is queued. Timeouts are the net.Conn's deadlines.

// readBufferSize is the goroutine engine's per-connection read buffer.
const readBufferSize = 1024

// netConn is the transport of a connection on the goroutine engine (TLS,
// or a socket the pollers could not take). A polled Conn has none, which
// keeps it out of every idle connection.
type netConn struct {
	net.Conn
	once sync.Once
	gone chan struct{} // closed when TCP is closed: the socket's end, for the goroutines that wait on it

	room     chan struct{} // capacity 1: the writer tells a waiting reader the queue drained
	one      [1][]byte     // the writer's batch while it is one frame; the writer's alone
	inflight int           // bytes of the batch the writer holds, still to write; under Conn.mu
	writing  bool          // a writer goroutine runs; under Conn.mu
	wantRoom bool          // the reader waits for room; under Conn.mu
}

// runOnGoroutine runs c on the calling goroutine to its end: OnOpen, the
// read loop, OnClose.
func (s *Server) runOnGoroutine(c *Conn, nc net.Conn) {
	g := &netConn{Conn: nc, gone: make(chan struct{}), room: make(chan struct{}, 1)}
	c.tr = g
	s.register(c)
	if err := s.handler.OnOpen(c); err != nil {
		c.fail(err)
		g.drain(c)
	} else {
		s.closeIfStopping(c)
		g.readLoop(c)
	}
	c.mu.Lock()
	code, reason, _ := c.endLocked()
	c.mu.Unlock()
	s.end(c, code, reason)
}

// readLoop reads frames until the connection ends. It runs on the
// connection's own goroutine.
func (g *netConn) readLoop(c *Conn) {
	defer func() {
		c.rd.release() // the pools get back what an unfinished message held
		c.rd = nil
	}()
	if err := c.consumePending(); err != nil {
		g.endRead(c, err)
		return
	}
	buf := make([]byte, readBufferSize)
	for {
		g.waitForRoom(c)
		g.extendIdle(c)
		if err := c.readOnce(g.Read, buf); err != nil {
			g.endRead(c, err)
			return
		}
	}
}

// waitForRoom holds the reader while more than Options.pauseReadAt is
// queued for c, until the writer has it down to resumeReadAt or TCP is
// closed, as a poller takes EPOLLIN off (see pauseReadAt). A client that
// never reads is cut by the writer's WriteTimeout, which closes TCP.
func (g *netConn) waitForRoom(c *Conn) {
	o := &c.srv.opts
	c.mu.Lock()
	if c.queuedLocked() <= o.pauseReadAt() {
		c.mu.Unlock()
		return
	}
	for g.writing && c.queuedLocked() > o.resumeReadAt() {
		g.wantRoom = true
		c.mu.Unlock()
		select {
		case <-g.room:
		case <-g.gone:
			return // the read fails and ends the connection
		}
		c.mu.Lock()
	}
	g.wantRoom = false
	c.mu.Unlock()
}

// extendIdle moves the read deadline forward unless a close is under way
// (then the deadline bounds the wait for the client's close frame).
func (g *netConn) extendIdle(c *Conn) {
	if c.srv.opts.IdleTimeout < 0 {
		return
	}
	c.mu.Lock()
	closing := c.closingLocked()
	c.mu.Unlock()
	if !closing {
		g.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
	}
}

// endRead finishes the connection after the read loop stopped with err,
// as the poller's readFailed does.
func (g *netConn) endRead(c *Conn, err error) {
	if errors.Is(err, errPeerClosed) {
		// The handshake is complete: our echo (or our own earlier close
		// frame) is queued; close TCP once it is written (RFC 6455 §7.1.1:
		// the server closes first).
		c.mu.Lock()
		c.closeAfterFlushLocked(connCloseDone)
		c.mu.Unlock()
		select {
		case <-g.gone:
		case <-time.After(c.srv.opts.CloseTimeout):
			g.closeTCP()
		}
		return
	}
	c.mu.Lock()
	open := !c.closingLocked()
	c.mu.Unlock()
	switch {
	case !open:
		// We closed first; the client never answered, or answered and then
		// dropped TCP; or the connection was killed.
	case isTimeout(err):
		c.fail(errIdleTimeout)
	case isNetErr(err):
		// The client vanished without a close frame: 1006.
		g.closeTCP()
		return
	default:
		c.fail(err)
	}
	c.mu.Lock()
	c.closeAfterFlushLocked(connFailing)
	c.mu.Unlock()
	g.drain(c)
}

// drain discards what the client still sends until it closes its side, for
// at most CloseTimeout and a bounded number of bytes, then closes TCP.
func (g *netConn) drain(c *Conn) {
	g.SetReadDeadline(time.Now().Add(c.srv.opts.CloseTimeout))
	io.Copy(io.Discard, io.LimitReader(g, drainLimit))
	g.closeTCP()
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
func (g *netConn) halfClose() {
	if tc, ok := g.Conn.(interface{ CloseWrite() error }); ok {
		if tc.CloseWrite() == nil {
			return
		}
	}
	g.closeTCP()
}

// closeTCP closes the socket once; the reader and the writer see errors.
func (g *netConn) closeTCP() {
	g.once.Do(func() {
		g.Close()
		close(g.gone)
	})
}

// writeLoop writes everything queued and exits when the queue is empty.
// It is the only goroutine that writes g. The batch it writes stays
// counted in Conn.out.queued (and is the frame being written that enqueue's
// backlog leaves out) until it is written.
func (g *netConn) writeLoop(c *Conn) {
	defer c.srv.wg.Done()
	for {
		c.mu.Lock()
		if !c.hasFramesLocked() {
			g.writing = false
			c.releaseOutputLocked() // all written: an idle connection keeps no write state
			if c.shuttingLocked() {
				g.shutNowLocked(c)
			}
			c.mu.Unlock()
			return
		}
		w := c.out
		batch, n := w.frames, w.queued
		if len(batch) == 1 {
			// The frame may sit in w.first, which the next append
			// reuses: the batch takes it into the writer's own slot.
			g.one[0], w.first[0] = batch[0], nil
			batch = g.one[:]
		}
		// w stays, counting the batch in queued until it is written.
		w.frames, c.pongLast, g.inflight = nil, false, n
		c.mu.Unlock()

		err := g.writeBatch(c, batch, n)
		g.one[0] = nil
		if err != nil {
			c.srv.log.Debug("write failed", "conn", c.id, "err", err)
			c.srv.sendFailures.Add(1)
			c.mu.Lock()
			c.releaseOutputLocked()
			g.writing, g.inflight = false, 0
			c.setStateLocked(connKilled)
			c.mu.Unlock()
			g.closeTCP()
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
func (g *netConn) writeBatch(c *Conn, batch net.Buffers, n int) error {
	if n <= writeChunk {
		g.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
		if _, err := batch.WriteTo(g.Conn); err != nil {
			return err
		}
		g.wrote(c, n)
		return nil
	}
	for _, b := range batch {
		for len(b) > 0 {
			k := min(len(b), writeChunk)
			g.SetWriteDeadline(time.Now().Add(c.srv.opts.WriteTimeout))
			if _, err := g.Conn.Write(b[:k]); err != nil {
				return err
			}
			g.wrote(c, k)
			b = b[k:]
		}
	}
	return nil
}

// wrote accounts for n bytes written by the writer goroutine and wakes a
// reader that waits for the queue to drain.
func (g *netConn) wrote(c *Conn, n int) {
	c.bytesOut.Add(uint64(n))
	c.mu.Lock()
	c.out.queued -= n // the writer's batch keeps c.out (writeLoop)
	g.inflight -= n
	if g.wantRoom && c.out.queued <= c.srv.opts.resumeReadAt() {
		g.wantRoom = false
		select {
		case g.room <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
}

// The goroutine engine's side of transport.

func (g *netConn) clock() int64 { return time.Now().UnixNano() }

func (g *netConn) inflightLocked(*Conn) int { return g.inflight }

// writeLocked starts the writer goroutine unless it runs.
func (g *netConn) writeLocked(c *Conn) {
	if !g.writing {
		g.writing = true
		c.srv.wg.Add(1)
		go g.writeLoop(c)
	}
}

// shutLocked: a running writer shuts TCP when it has written the queue.
func (g *netConn) shutLocked(c *Conn) {
	if !g.writing {
		g.shutNowLocked(c)
	}
}

// shutNowLocked closes TCP, or half-closes it on a failing connection,
// whose reader drains and then closes it. c.mu is held.
func (g *netConn) shutNowLocked(c *Conn) {
	if c.state == connFailing {
		g.halfClose()
	} else {
		g.closeTCP()
	}
}

// awaitClose moves the read deadline to closeBy: a reader blocked on a
// client that never answers our close frame wakes then.
func (g *netConn) awaitClose(c *Conn) { g.SetReadDeadline(time.Unix(0, c.closeBy.Load())) }

func (g *netConn) abort(*Conn) { g.closeTCP() }

// wake: the reader comes back to a message being inflated on its own, as
// it calls readOnce again.
func (g *netConn) wake(*Conn) {}
