//go:build linux

package gateway

import (
	"errors"
	"net/http"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Handshakes whose request has not come yet (issue 16). The accept loop
// reads a socket once as soon as it accepts it; when the request head is
// not all there, the socket waits in a poller's epoll set for the rest,
// not on a goroutine of its own: a pendingHS is all it holds, and its head
// buffer only once bytes came. The poller reads the head as it arrives
// (in pieces: TestRequestInPieces), bounded by Options.MaxRequestHead; the
// sweeper has it answer 408 at Options.HandshakeTimeout. A complete
// WebSocket request is upgraded as on the accept loop (upgradeFD), and
// the connection handed to a poller; a page goes the way of a net.Conn;
// a head we refuse is answered on the socket itself, which then lingers
// in the poller until the client has read the answer (lingerClose's
// bounds).

// pendingHS is one accepted socket whose handshake is not over: its
// request head is still coming, or it was refused and lingers. It exists
// only while that lasts; the connection's Conn is made at the upgrade.
type pendingHS struct {
	fd      int32
	ap      netip.AddrPort
	counted bool  // the door counts it among its peer's handshakes in progress
	linger  bool  // refused and answered: what the client sends is dropped
	h       *head // the head so far; nil while no byte came
	n       int   // bytes in h.buf
	end     int   // the head's length, once complete
	drained int   // bytes dropped while lingering
	by      int64 // unix nanos: the handshake timeout, or the lingering's end
	sc      headScanner
}

// outcome is what a read of a pending handshake's socket found.
type outcome uint8

const (
	hsWait    outcome = iota // the head is not complete: wait for more
	hsLinger                 // refused and answered: drop what comes until the client closes
	hsUpgrade                // a complete WebSocket request
	hsPage                   // a complete request for a page
	hsGone                   // over: the socket is to be closed
)

// readSome reads once from ph's socket and says what ph is now. A head we
// refuse is answered here; buf is scratch space for a lingering socket.
func (s *Server) readSome(ph *pendingHS, buf []byte) outcome {
	if ph.linger {
		n, err := rawRead(int(ph.fd), buf)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			return hsLinger
		case err != nil || n == 0:
			return hsGone
		}
		if ph.drained += n; ph.drained > lingerBytes {
			return hsGone
		}
		return hsLinger
	}
	if ph.h == nil {
		p := headBufs.Get().(*[]byte)
		ph.h = &head{buf: *p, pool: p}
	}
	h := ph.h
	if ph.n == len(h.buf) {
		// As readHead: the buffer grows up to MaxRequestHead.
		if ph.n >= s.opts.MaxRequestHead {
			if !ph.sc.lineDone {
				return s.refuseFD(ph, http.StatusRequestURITooLong, "request line too long")
			}
			return s.refuseFD(ph, http.StatusRequestHeaderFieldsTooLarge, "request head too large")
		}
		grown := make([]byte, min(2*len(h.buf), s.opts.MaxRequestHead))
		copy(grown, h.buf[:ph.n])
		h.release()
		h.buf = grown
	}
	m, err := rawRead(int(ph.fd), h.buf[ph.n:])
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		if ph.n == 0 {
			h.release() // a socket that sent nothing holds no buffer
			ph.h = nil
		}
		return hsWait
	case err != nil:
		s.log.Debug("no request", "remote", ph.ap.String(), "err", err)
		return hsGone
	case m == 0:
		if ph.n > 0 {
			return s.refuseFD(ph, http.StatusBadRequest, "request head cut short")
		}
		return hsGone
	}
	ph.n += m
	end, herr := ph.sc.scan(h.buf[:ph.n])
	var he *headError
	switch {
	case errors.As(herr, &he):
		return s.refuseFD(ph, he.status, he.why)
	case end == 0:
		return hsWait
	}
	ph.end = end
	if wantsWebSocket(h.buf[:end]) {
		return hsUpgrade
	}
	return hsPage
}

// refuseFD answers a head we refuse with status, on the socket itself (its
// send buffer is empty: the answer fits), half-closes it, and has it
// linger, as lingerClose does: the client may still be sending, and
// closing on unread bytes would reset the connection, answer and all.
func (s *Server) refuseFD(ph *pendingHS, status int, why string) outcome {
	s.countRefusal(reasonBadRequest, status, "remote", ph.ap.String(), "why", why)
	rawWrite(int(ph.fd), refusal(status))
	unix.Shutdown(int(ph.fd), unix.SHUT_WR)
	s.endPending(ph)
	ph.linger, ph.by = true, nowNano()+int64(lingerTimeout)
	return hsLinger
}

// endPending ends ph's handshake for the door and lets go of its head.
func (s *Server) endPending(ph *pendingHS) {
	if ph.counted {
		s.door.endHandshake(ph.ap.Addr())
		ph.counted = false
	}
	if ph.h != nil {
		ph.h.release()
		ph.h = nil
	}
}

// dropPending closes ph's socket: its handshake is over without a
// connection.
func (s *Server) dropPending(ph *pendingHS) {
	s.endPending(ph)
	rawClose(int(ph.fd))
	s.opened(-1)
	s.wg.Done()
}

// take serves a complete request: a WebSocket upgrade on the spot
// (Options.InlineOpen) or on a goroutine, a page through net.Conn. on is
// the poller whose goroutine this is, when ph's socket is in its epoll set
// (an inline upgrade keeps it there), or nil.
func (s *Server) take(ph *pendingHS, o outcome, on *poller) {
	fd, h := int(ph.fd), ph.h
	if o == hsPage {
		pre := append([]byte(nil), h.buf[:ph.n]...)
		h.release()
		s.slowPath(fd, ph.ap.Addr(), ph.counted, pre)
		return
	}
	h.buf, h.n = h.buf[:ph.n], ph.end
	if s.opts.InlineOpen {
		s.upgradeFD(fd, ph.ap, ph.counted, h, on)
		return
	}
	go s.upgradeFD(fd, ph.ap, ph.counted, h, nil)
}

// awaitRequest has a poller wait for the rest of ph's request (or the end
// of its lingering). Without an engine, the request is read on a
// goroutine (serveConn), with what came of it so far.
func (s *Server) awaitRequest(ph *pendingHS) {
	if p := s.pollerFor(); p != nil {
		p.mu.Lock()
		first := p.quietLocked()
		p.newPend = append(p.newPend, ph)
		p.mu.Unlock()
		if first {
			p.notify()
		}
		return
	}
	if ph.linger {
		s.dropPending(ph)
		return
	}
	var pre []byte
	if ph.h != nil {
		pre = append(pre, ph.h.buf[:ph.n]...)
		ph.h.release()
	}
	s.slowPath(int(ph.fd), ph.ap.Addr(), ph.counted, pre)
}

// The poller's side.

// quietLocked reports whether nothing waits for the poller's task run,
// so that whoever queues the first must notify it. p.mu is held.
func (p *poller) quietLocked() bool {
	return len(p.tasks) == 0 && len(p.detaches) == 0 && len(p.newPend) == 0 && !p.sweepDue
}

// watch adds ph's socket to the epoll set.
func (p *poller) watch(ph *pendingHS) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: ph.fd}
	if err := rawEpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(ph.fd), &ev); err != nil {
		p.srv.log.Error("epoll_ctl add failed", "remote", ph.ap.String(), "err", err)
		p.srv.dropPending(ph)
		return
	}
	if p.pend == nil {
		p.pend = make(map[int32]*pendingHS)
	}
	p.pend[ph.fd] = ph
	p.npend.Store(int32(len(p.pend)))
}

// forget takes ph out of the poller's table.
func (p *poller) forget(ph *pendingHS) {
	delete(p.pend, ph.fd)
	p.npend.Store(int32(len(p.pend)))
}

// pendingReadable reads what ph's client sent and acts on it.
func (p *poller) pendingReadable(ph *pendingHS) {
	switch o := p.srv.readSome(ph, p.buf); o {
	case hsWait, hsLinger:
	case hsGone:
		p.forget(ph)
		p.srv.dropPending(ph)
	case hsUpgrade:
		p.forget(ph)
		if p.srv.opts.InlineOpen {
			p.srv.take(ph, o, p) // the connection stays in this poller's set
			return
		}
		p.release(ph, o)
	default:
		p.forget(ph)
		p.release(ph, o)
	}
}

// release takes ph's socket out of the epoll set and hands it on, to a
// goroutine.
func (p *poller) release(ph *pendingHS, o outcome) {
	if err := rawEpollCtl(p.epfd, unix.EPOLL_CTL_DEL, int(ph.fd), nil); err != nil {
		p.srv.log.Error("epoll_ctl del failed", "remote", ph.ap.String(), "err", err)
		p.srv.dropPending(ph)
		return
	}
	p.srv.take(ph, o, nil)
}

// sweepPending answers 408 to the handshakes whose head did not come in
// time, and closes the lingering sockets whose time is up.
func (p *poller) sweepPending(now int64) {
	for _, ph := range p.pend {
		if now <= ph.by {
			continue
		}
		if !ph.linger {
			p.srv.countRefusal(reasonTimeout, http.StatusRequestTimeout, "remote", ph.ap.String())
			rawWrite(int(ph.fd), refusal(http.StatusRequestTimeout))
		}
		p.forget(ph)
		p.srv.dropPending(ph)
	}
}

// dropAllPending closes every pending handshake: the poller stops.
func (p *poller) dropAllPending() {
	for _, ph := range p.pend {
		p.forget(ph)
		p.srv.dropPending(ph)
	}
}

// requestSweep has the poller sweep its pending handshakes, if it has any.
func (p *poller) requestSweep() {
	if p.npend.Load() == 0 {
		return
	}
	p.mu.Lock()
	first := p.quietLocked()
	p.sweepDue = true
	p.mu.Unlock()
	if first {
		p.notify()
	}
}
