package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gobwas/ws"
)

// wantsWebSocket reports whether a request head asks for an upgrade to
// WebSocket (an Upgrade header naming websocket; RFC 6455 §4.1).
func wantsWebSocket(head []byte) bool {
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(k), []byte("Upgrade")) {
			return bytes.Contains(bytes.ToLower(v), []byte("websocket"))
		}
	}
	return false
}

// handshake is what one upgrade learned about its client.
type handshake struct {
	remote   string     // the client's address (from a trusted proxy's headers, if any)
	client   netip.Addr // remote's IP: the key of the per-address limits
	reserved bool       // the door counted the connection (admit)
	refused  bool       // admit refused it, and the refusal is counted (the door's) or the application's
	protocol string     // the negotiated subprotocol
	deflate  wbits      // permessage-deflate: the server's window bits, 0 when not negotiated
	uri      string
	fwd      forwardedFor      // the forwarding headers, read by admit
	header   map[string]string // kept when Options.KeepHeaders
	fail     FailReason        // why it failed, when failSet (metrics)
	failSet  bool

	// For Options.Admit only: the request's headers, and Admit's value.
	host      string
	reqHeader http.Header
	admitted  any
}

// upgrade runs the WebSocket handshake on the request head h, answering
// on out, for the client at remote. What the client sent after the head
// stays in h.rest for the frame reader. On success the door counts the
// connection under hs.client until end.
func (s *Server) upgrade(out io.Writer, remote string, h *head, peer netip.Addr) (handshake, error) {
	hs := handshake{remote: remote, client: peer}
	u := ws.Upgrader{
		OnRequest: func(uri []byte) error {
			hs.uri = string(uri)
			return nil
		},
		OnHost: func(host []byte) error {
			if s.opts.KeepHeaders {
				hs.header = map[string]string{"Host": string(host)}
			}
			if s.opts.Admit != nil {
				hs.host = string(host)
			}
			return nil
		},
		OnHeader: func(key, value []byte) error {
			return s.onHeader(&hs, key, value)
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			return nil, s.admit(&hs, peer)
		},
	}
	if len(s.opts.Subprotocols) > 0 {
		u.Protocol = func(p []byte) bool {
			for _, want := range s.opts.Subprotocols {
				if string(p) == want {
					hs.protocol = want
					return true
				}
			}
			return false
		}
	}
	var ext *deflateExtension
	if s.opts.Deflate {
		ext = newDeflateExtension()
		u.Negotiate = ext.Negotiate
	}
	w := &countingWriter{w: out}
	rw := struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(h.bytes()), w}
	if _, err := u.Upgrade(rw); err != nil {
		if hs.reserved {
			// The 101 could not be written: nothing holds the place.
			s.door.release(hs.client)
		}
		if w.n == 0 {
			// gobwas/ws answers every failure but a request line it cannot
			// parse; that one gets its 400 here.
			writeResponse(out, nil, http.StatusBadRequest, nil, []byte("bad request: "+err.Error()+"\n"))
		}
		return hs, err
	}
	if ext != nil {
		hs.deflate = ext.accepted()
	}
	return hs, nil
}

// admit decides whether an upgrade whose head was read goes ahead: the one
// place a handshake is refused with an HTTP status once its headers are
// known. Checks run cheapest first, and the door counts the connection
// last, so a check that refuses has nothing to undo: the application's
// Options.Admit (tokens, its own scheme) runs just before the reservation.
func (s *Server) admit(hs *handshake, peer netip.Addr) error {
	if s.trustedIP(peer) {
		if ip, ok := hs.fwd.resolve(s.trustedIP); ok {
			hs.client, hs.remote = ip, ip.String()
		}
	}
	if s.opts.RequireSubprotocol && hs.protocol == "" {
		hs.failAs(FailSubprotocol)
		return reject(http.StatusBadRequest,
			fmt.Sprintf("no supported subprotocol (want one of %s)", strings.Join(s.opts.Subprotocols, ", ")))
	}
	if err := s.admitApp(hs); err != nil {
		// Options.Admit's refusal (a token, the application's scheme): the
		// application counts and logs it; it is no bad request.
		hs.refused = true
		return err
	}
	if r, ok := s.door.reserve(hs.client); !ok {
		s.door.refused(s.log, r, "client", hs.client.String())
		hs.refused = true
		hs.failAs(failOf(r))
		return reject(statusFor(r), http.StatusText(statusFor(r)))
	}
	hs.reserved = true
	return nil
}

// failAs records why the handshake failed, for metrics; the last call
// wins, as the checks run in order.
func (hs *handshake) failAs(r FailReason) { hs.fail, hs.failSet = r, true }

// failReason is why the upgrade that returned err failed: what a check
// recorded, else a bad request when it was answered with an HTTP error
// (rejected), else FailOther.
func (hs *handshake) failReason(rejected bool) FailReason {
	switch {
	case hs.failSet:
		return hs.fail
	case rejected:
		return FailBadRequest
	default:
		return FailOther
	}
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

func (s *Server) onHeader(hs *handshake, key, value []byte) error {
	if s.opts.Admit != nil {
		if hs.reqHeader == nil {
			hs.reqHeader = make(http.Header)
		}
		hs.reqHeader.Add(string(key), string(value))
	}
	if s.opts.KeepHeaders {
		if hs.header == nil {
			hs.header = make(map[string]string)
		}
		k := http.CanonicalHeaderKey(string(key))
		if old, ok := hs.header[k]; ok {
			hs.header[k] = old + ", " + string(value)
		} else {
			hs.header[k] = string(value)
		}
	}
	switch {
	case bytes.EqualFold(key, []byte("Origin")):
		if !s.originAllowed(string(value)) {
			hs.failAs(FailOrigin)
			return ws.RejectConnectionError(
				ws.RejectionStatus(http.StatusForbidden),
				ws.RejectionReason("origin not allowed"),
			)
		}
	default:
		hs.fwd.add(key, value)
	}
	return nil
}

// originAllowed: no list allows every origin (a mini-program sends none, a
// browser its page's); otherwise the origin must be listed exactly, or the
// list holds "*".
func (s *Server) originAllowed(origin string) bool {
	if len(s.opts.AllowOrigins) == 0 {
		return true
	}
	for _, o := range s.opts.AllowOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// trustedIP reports whether ip is one of Options.TrustedProxies.
func (s *Server) trustedIP(ip netip.Addr) bool {
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// serveHTTP answers a plain HTTP request (no Upgrade) with Options.HTTP, or
// 400 without one, and closes the connection after the response. The head
// was checked (a GET or HEAD): the request has no body to read.
func (s *Server) serveHTTP(nc net.Conn, h *head) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(h.bytes())))
	if err != nil {
		writeResponse(nc, nil, http.StatusBadRequest, nil, []byte("bad request\n"))
		return
	}
	req.RemoteAddr = nc.RemoteAddr().String()
	if s.opts.HTTP == nil {
		writeResponse(nc, req, http.StatusBadRequest, nil, []byte("this is a WebSocket endpoint\n"))
		return
	}
	rw := &responseWriter{header: http.Header{}}
	s.opts.HTTP.ServeHTTP(rw, req)
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	writeResponse(nc, req, rw.status, rw.header, rw.body.Bytes())
}

func writeResponse(w io.Writer, req *http.Request, status int, h http.Header, body []byte) {
	if h == nil {
		h = http.Header{}
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	resp := &http.Response{
		StatusCode: status, ProtoMajor: 1, ProtoMinor: 1, Request: req,
		Header: h, ContentLength: int64(len(body)), Close: true,
		Body: io.NopCloser(bytes.NewReader(body)),
	}
	resp.Write(w) // the connection is closed next; nothing to do on error
}

// responseWriter collects a handler's response in memory; the pages served
// on the WebSocket port are small.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }
func (w *responseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(p)
}
