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
// (Options.InlineOpen) or on a goroutine of its own;
// anything else (a head still coming, a page, a head to refuse) goes the
// way of a net.Conn, on a goroutine, with the bytes read so far.
func (s *Server) readRequestFD(fd int, ap netip.AddrPort, counted bool) {
	p := headBufs.Get().(*[]byte)
	h := &head{buf: *p, pool: p}
	n, err := rawRead(fd, h.buf)
	var end int
	if err == nil && n > 0 {
		var sc headScanner
		end, err = sc.scan(h.buf[:n])
	}
	if err != nil || end == 0 || !wantsWebSocket(h.buf[:end]) {
		pre := append([]byte(nil), h.buf[:max(n, 0)]...)
		h.release()
		s.slowPath(fd, ap.Addr(), counted, pre)
		return
	}
	h.buf, h.n = h.buf[:n], end
	if s.opts.InlineOpen {
		s.upgradeFD(fd, ap, counted, h)
		return
	}
	go s.upgradeFD(fd, ap, counted, h)
}

// slowPath serves fd as a net.Conn on a goroutine, as Serve does with what
// net.Listener accepts; pre is what was read of its request.
func (s *Server) slowPath(fd int, peer netip.Addr, counted bool, pre []byte) {
	nc, err := fdConn(fd)
	if err != nil {
		s.log.Warn("accepted socket dropped", "err", err)
		if counted {
			s.door.endHandshake(peer)
		}
		s.opened(-1)
		s.wg.Done()
		return
	}
	go s.serveConn(nc, peer, counted, pre)
}

// fdConn makes a net.Conn of fd, which it takes.
func fdConn(fd int) (net.Conn, error) {
	f := os.NewFile(uintptr(fd), "")
	defer f.Close() // FileConn holds a duplicate
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return nc, nil
}

// upgradeFD answers a complete WebSocket request on fd and hands the
// connection to a poller: handshake and serveConn's work, on a socket that
// never was a net.Conn.
func (s *Server) upgradeFD(fd int, ap netip.AddrPort, counted bool, h *head) {
	defer s.wg.Done()
	peer := ap.Addr()
	if counted {
		defer s.door.endHandshake(peer)
	}
	remote := ap.String()
	hs, err := s.upgrade(fdWriter(fd), remote, h, peer)
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
		c.in.b = append(make([]byte, 0, len(rest)+minRead), rest...)
	}
	h.release()
	if s.runPolledFD(c, fd) {
		return
	}
	// No engine: the goroutine engine serves it.
	nc, err := fdConn(fd)
	if err != nil {
		s.log.Warn("upgraded socket dropped", "conn", c.id, "err", err)
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
