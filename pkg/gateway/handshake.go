package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// headBufferSize bounds an HTTP request head; a longer one gets 431.
const headBufferSize = 4096

var headReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, headBufferSize) }}

var errHeadTooLarge = errors.New("gateway: request head too large")

// readHead waits until br holds a whole HTTP request head and returns it,
// without consuming it.
func readHead(br *bufio.Reader) ([]byte, error) {
	for {
		b, _ := br.Peek(br.Buffered())
		if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
			return b[:i+4], nil
		}
		if br.Buffered() == br.Size() {
			return nil, errHeadTooLarge
		}
		if _, err := br.Peek(br.Buffered() + 1); err != nil {
			return nil, err
		}
	}
}

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
	remote    string // the client's address (from a trusted proxy's headers, if any)
	protocol  string // the negotiated subprotocol
	deflate   bool   // permessage-deflate was negotiated
	uri       string
	forwarded string            // X-Real-IP or the last X-Forwarded-For entry
	header    map[string]string // kept when Options.KeepHeaders

	// For Options.Admit only: the request's headers, and Admit's value.
	host      string
	reqHeader http.Header
	admitted  any
}

// upgrade runs the WebSocket handshake on the head already in br, reading
// exactly the head's bytes so that anything the client sent after it stays
// in br for the frame reader.
func (s *Server) upgrade(nc net.Conn, br *bufio.Reader, headLen int) (handshake, error) {
	hs := handshake{remote: nc.RemoteAddr().String()}
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
			if s.opts.RequireSubprotocol && hs.protocol == "" {
				return nil, ws.RejectConnectionError(
					ws.RejectionStatus(http.StatusBadRequest),
					ws.RejectionReason(fmt.Sprintf("no supported subprotocol (want one of %s)", strings.Join(s.opts.Subprotocols, ", "))),
				)
			}
			if hs.forwarded != "" && s.trusted(nc.RemoteAddr()) {
				hs.remote = hs.forwarded
			}
			return nil, s.admit(&hs)
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
	var ext *wsflate.Extension
	if s.opts.Deflate {
		ext = newDeflateExtension()
		u.Negotiate = ext.Negotiate
	}
	w := &countingWriter{w: nc}
	rw := struct {
		io.Reader
		io.Writer
	}{io.LimitReader(br, int64(headLen)), w}
	if _, err := u.Upgrade(rw); err != nil {
		if w.n == 0 {
			// gobwas/ws answers every failure but a request line it cannot
			// parse; that one gets its 400 here.
			writeResponse(nc, nil, http.StatusBadRequest, nil, []byte("bad request: "+err.Error()+"\n"))
		}
		return hs, err
	}
	if ext != nil {
		_, hs.deflate = ext.Accepted()
	}
	return hs, nil
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
			return ws.RejectConnectionError(
				ws.RejectionStatus(http.StatusForbidden),
				ws.RejectionReason("origin not allowed"),
			)
		}
	case bytes.EqualFold(key, []byte("X-Real-IP")):
		hs.forwarded = string(bytes.TrimSpace(value))
	case bytes.EqualFold(key, []byte("X-Forwarded-For")):
		if hs.forwarded == "" {
			// nginx's $proxy_add_x_forwarded_for appends the address it saw
			// last: the rightmost entry is the one our proxy vouches for.
			parts := bytes.Split(value, []byte(","))
			hs.forwarded = string(bytes.TrimSpace(parts[len(parts)-1]))
		}
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

// trusted reports whether addr is one of Options.TrustedProxies.
func (s *Server) trusted(addr net.Addr) bool {
	if len(s.opts.TrustedProxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return false
	}
	ip := ap.Addr().Unmap()
	for _, p := range s.opts.TrustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// serveHTTP answers a plain HTTP request (no Upgrade) with Options.HTTP, or
// 400 without one, and closes the connection after the response.
func (s *Server) serveHTTP(nc net.Conn, br *bufio.Reader) {
	req, err := http.ReadRequest(br)
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
