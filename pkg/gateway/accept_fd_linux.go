//go:build linux

package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// acceptFD takes a socket the accept loop accepted: the door's count of
// handshakes in progress first, as admitPeer does, then its request.
func (s *Server) acceptFD(fd int, ap netip.AddrPort) {
	s.accepted.Add(1)
	peer := ap.Addr()
	counted := false
	if !s.trustedIP(peer) {
		if !s.door.startHandshake(peer) {
			// Rare and a flood's case alike: a fresh socket's send buffer
			// is empty, so the write cannot block.
			s.door.refused(s.log, reasonHandshakes, "peer", peer)
			s.k.failed(failOf(reasonHandshakes))
			rawWrite(fd, refusal(http.StatusTooManyRequests))
			unix.Close(fd)
			return
		}
		counted = true
	}
	s.wg.Add(1)
	s.opened(1) // WaitEmpty waits for its handshake too (reload -g)
	s.readRequestFD(fd, ap, counted)
}

// readRequestFD reads the request of a socket just accepted. When the
// whole head is there and asks for a WebSocket, it is upgraded here
// (Options.InlineOpen) or on a goroutine of its own; a page goes the way
// of a net.Conn, on a goroutine; a head still coming waits in a poller
// (pending_linux.go), and a head to refuse is answered here.
func (s *Server) readRequestFD(fd int, ap netip.AddrPort, counted bool) {
	ph := &pendingHS{fd: int32(fd), ap: ap, counted: counted, by: nowNano() + int64(s.opts.HandshakeTimeout)}
	switch o := s.readSome(ph, nil); o {
	case hsWait, hsLinger:
		s.awaitRequest(ph)
	case hsGone:
		s.dropPending(ph)
	default:
		s.take(ph, o, nil)
	}
}

// slowPath serves fd as a net.Conn on a goroutine, as Serve does with what
// net.Listener accepts; pre is what was read of its request. With no
// descriptor left for the net.Conn's, the client gets the door's 503 on
// the socket itself, as Serve's reserve gives it.
func (s *Server) slowPath(fd int, peer netip.Addr, counted bool, pre []byte) {
	nc, err := fdConn(fd)
	if err != nil {
		if outOfFiles(err) {
			s.countRefusal(reasonFiles, http.StatusServiceUnavailable, "peer", peer)
			rawWrite(fd, refusal(http.StatusServiceUnavailable))
		} else {
			s.log.Warn("accepted socket dropped", "err", err)
		}
		unix.Close(fd)
		if counted {
			s.door.endHandshake(peer)
		}
		s.opened(-1)
		s.wg.Done()
		return
	}
	go s.serveConn(nc, peer, counted, pre)
}

// fdConn makes a net.Conn of fd. On success fd is closed (the net.Conn
// holds a duplicate); on failure it is left open, for the caller to
// answer on it: the duplicates are what fails when the process is out of
// descriptors.
func fdConn(fd int) (net.Conn, error) {
	d, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("gateway: dup socket: %w", err)
	}
	f := os.NewFile(uintptr(d), "")
	nc, err := net.FileConn(f) // another duplicate
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	unix.Close(fd)
	return nc, nil
}

// upgradeFD answers a complete WebSocket request on fd and hands the
// connection to a poller: handshake and serveConn's work, on a socket that
// never was a net.Conn.
// on is the poller whose goroutine this is and whose epoll set holds fd
// already, or nil (runPolledFD).
func (s *Server) upgradeFD(fd int, ap netip.AddrPort, counted bool, h *head, on *poller) {
	defer s.wg.Done()
	peer := ap.Addr()
	remote := ap.String()
	hs, err := s.upgrade(fdWriter(fd), remote, h, peer)
	if counted {
		// Answered: no longer in progress, as handshake counts it (a
		// client quick to reconnect is not refused 429 while OnOpen runs).
		s.door.endHandshake(peer)
	}
	if err != nil {
		var rej *ws.ConnectionRejectedError
		rejected := errors.As(err, &rej)
		s.k.failed(hs.failReason(rejected))
		if !hs.refused && rejected {
			s.door.refused(s.log, reasonBadRequest, "remote", remote, "why", err.Error())
		} else {
			s.log.Debug("handshake failed", "remote", remote, "err", err)
		}
		h.release()
		unix.Close(fd)
		s.opened(-1)
		return
	}
	c := s.newConn(hs)
	if rest := h.rest(); len(rest) > 0 {
		c.in.set(append(make([]byte, 0, len(rest)+minRead), rest...))
	}
	h.release()
	if s.runPolledFD(c, fd, on) {
		return
	}
	// No engine: the goroutine engine serves it.
	nc, err := fdConn(fd)
	if err != nil {
		s.log.Warn("upgraded socket dropped", "conn", c.id, "err", err)
		unix.Close(fd)
		s.register(c)
		s.end(c, ws.StatusAbnormalClosure, "")
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.runOnGoroutine(c, nc)
	}()
}

// fdWriter writes the handshake's answer to a socket just accepted, whose
// send buffer is empty: a write that does not take it all (EAGAIN) is an
// error, as the answer is a few hundred bytes.
type fdWriter int

func (w fdWriter) Write(b []byte) (int, error) {
	n, err := rawWrite(int(w), b)
	if err == nil && n < len(b) {
		err = errShortWrite
	}
	if err != nil {
		return max(n, 0), fmt.Errorf("gateway: write the handshake's answer: %w", err)
	}
	return n, nil
}

var errShortWrite = errors.New("short write")
