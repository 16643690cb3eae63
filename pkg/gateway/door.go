package gateway

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// admitPeer counts a new connection among its peer's handshakes in
// progress (Options.MaxHandshakesPerIP), or refuses it with 429 at once.
// It runs on the accept loop, before a goroutine is started: a refusal is
// one small write to a fresh socket, whose send buffer is empty, and a
// flood of refused connections then costs no goroutines. counted says
// whether handshake must uncount it (trusted proxies are not counted).
func (s *Server) admitPeer(nc net.Conn) (peer netip.Addr, counted, ok bool) {
	peer = peerOf(nc.RemoteAddr())
	if s.trustedIP(peer) {
		return peer, false, true
	}
	if !s.door.startHandshake(peer) {
		s.refuse(nc, reasonHandshakes, http.StatusTooManyRequests, "peer", peer)
		return peer, false, false
	}
	return peer, true, true
}

// peerOf is a connection's peer IP.
func peerOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return clientKey(a.String())
}

// handshake takes nc from accept to a WebSocket connection, within
// Options.HandshakeTimeout; counted is admitPeer's, and pre what the
// accept loop already read of the request (acceptFD). Any other outcome is
// answered (a page, or an HTTP error) and nc closed; ok is false then.
func (s *Server) handshake(nc net.Conn, peer netip.Addr, counted bool, pre []byte) (hs handshake, h *head, _ net.Conn, ok bool) {
	if counted {
		defer s.door.endHandshake(peer)
	}
	nc.SetDeadline(time.Now().Add(s.opts.HandshakeTimeout))
	if s.opts.TLS != nil {
		tc := tls.Server(nc, s.opts.TLS)
		if err := tc.Handshake(); err != nil {
			s.k.failed(FailTLS)
			s.log.Debug("TLS handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
			nc.Close()
			return hs, nil, nil, false
		}
		nc = tc
	}
	var r io.Reader = nc
	if len(pre) > 0 {
		r = io.MultiReader(bytes.NewReader(pre), nc)
	}
	h, err := readHead(r, s.opts.MaxRequestHead)
	if err != nil {
		var he *headError
		var ne net.Error
		switch {
		case errors.As(err, &he):
			s.refuse(nc, reasonBadRequest, he.status, "remote", nc.RemoteAddr().String(), "why", he.why)
		case errors.As(err, &ne) && ne.Timeout():
			s.refuse(nc, reasonTimeout, http.StatusRequestTimeout, "remote", nc.RemoteAddr().String())
		default:
			s.log.Debug("no request", "remote", nc.RemoteAddr().String(), "err", err)
			nc.Close()
		}
		return hs, nil, nil, false
	}
	if !wantsWebSocket(h.bytes()) {
		s.serveHTTP(nc, h)
		h.release()
		nc.Close()
		return hs, nil, nil, false
	}
	if hs, err = s.upgrade(nc, nc.RemoteAddr().String(), h, peer); err != nil {
		var rej *ws.ConnectionRejectedError
		rejected := errors.As(err, &rej)
		s.k.failed(hs.failReason(rejected))
		if !hs.refused && rejected {
			// Answered with an HTTP error (a missing WebSocket header, a
			// forbidden Origin, no subprotocol): a request we do not serve.
			s.door.refused(s.log, reasonBadRequest, "remote", nc.RemoteAddr().String(), "why", err.Error())
		} else {
			s.log.Debug("handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		}
		h.release()
		nc.Close()
		return hs, nil, nil, false
	}
	nc.SetDeadline(time.Time{})
	return hs, h, nc, true
}

// refuse counts and logs a refusal, answers it with status and closes nc.
// The answer gets a short deadline of its own: the handshake's may be the
// one that just passed.
func (s *Server) refuse(nc net.Conn, r reason, status int, attrs ...any) {
	s.countRefusal(r, status, attrs...)
	if _, secure := nc.(*tls.Conn); s.opts.TLS != nil && !secure {
		// Before the TLS handshake: an HTTP answer would be garbage to
		// the client's TLS stack.
		nc.Close()
		return
	}
	nc.SetWriteDeadline(time.Now().Add(refuseWriteTimeout))
	nc.Write(refusal(status))
	if r == reasonBadRequest {
		lingerClose(nc)
		return
	}
	nc.Close()
}

// countRefusal counts and logs a refusal for r, answered with status.
func (s *Server) countRefusal(r reason, status int, attrs ...any) {
	s.door.refused(s.log, r, attrs...)
	if f := failOf(r); f == FailBadRequest && (status == http.StatusRequestURITooLong || status == http.StatusRequestHeaderFieldsTooLarge) {
		s.k.failed(FailHeadTooLarge)
	} else {
		s.k.failed(f)
	}
}

// lingerClose closes nc after the client has read our answer: a client
// refused in the middle of its request (an oversized head) has bytes in
// flight, and closing with unread data makes the kernel reset the
// connection, which can destroy the answer before the client reads it.
// So we stop writing, read and drop up to lingerBytes for up to
// lingerTimeout, then close, as nginx's lingering_close does.
func lingerClose(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		nc.SetReadDeadline(time.Now().Add(lingerTimeout))
		io.CopyN(io.Discard, nc, lingerBytes)
	}
	nc.Close()
}

// The bounds of lingerClose.
const (
	lingerTimeout = time.Second
	lingerBytes   = 64 << 10
)

// refuseWriteTimeout bounds the write of a refusal; it fits a socket's
// empty send buffer, so only a peer that is gone takes that long.
const refuseWriteTimeout = time.Second

// refusal is the whole answer to a refused request: the status, its text
// as the body, and Connection: close. Built by hand, as it may be written
// thousands of times a second during a flood.
func refusal(status int) []byte {
	text := http.StatusText(status)
	b := make([]byte, 0, 128)
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, text...)
	b = append(b, "\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(text)+1), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, text...)
	return append(b, '\n')
}
