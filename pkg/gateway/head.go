package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
)

// Reading the request head (issue 11, point 4): every request that is not
// one we serve gets an HTTP error as soon as that is known, with
// Connection: close, instead of a silent close when the handshake times
// out. The head is checked as it arrives, so a TLS ClientHello on the plain
// port, binary garbage or a bare-LF request is answered on its first bytes.

// headChunk is the buffer a head is first read into; a longer head (large
// cookies, long token URLs) grows it up to Options.MaxRequestHead, so an
// idle or slow handshake holds 4 KiB, not the limit.
const headChunk = 4096

var headBufs = sync.Pool{New: func() any { b := make([]byte, headChunk); return &b }}

// headError is a request head we refuse, with the status that says why.
type headError struct {
	status int
	why    string
}

func (e *headError) Error() string { return fmt.Sprintf("gateway: %d %s", e.status, e.why) }

func badHead(status int, why string) error { return &headError{status, why} }

// head is a request head read from a client, and what came after it.
type head struct {
	buf  []byte // the head, then the bytes the client sent behind it
	n    int    // the head's length in buf
	pool *[]byte
}

// bytes is the request head, up to and including its empty line.
func (h *head) bytes() []byte { return h.buf[:h.n] }

// rest is what the client sent behind the head (the first frames).
func (h *head) rest() []byte { return h.buf[h.n:] }

// release returns the pooled buffer; h is not used after.
func (h *head) release() {
	if h.pool != nil {
		headBufs.Put(h.pool)
		h.pool = nil
	}
	h.buf = nil
}

// readHead reads a request head of at most max bytes from r, checking it as
// it comes. A refused head's error is a *headError.
func readHead(r io.Reader, max int) (*head, error) {
	p := headBufs.Get().(*[]byte)
	h := &head{buf: *p, pool: p}
	var sc headScanner
	n := 0
	for {
		if n == len(h.buf) {
			if n >= max {
				h.release()
				if !sc.lineDone {
					return nil, badHead(http.StatusRequestURITooLong, "request line too long")
				}
				return nil, badHead(http.StatusRequestHeaderFieldsTooLarge, "request head too large")
			}
			grown := make([]byte, min(2*len(h.buf), max))
			copy(grown, h.buf[:n])
			h.release()
			h.buf = grown
		}
		m, err := r.Read(h.buf[n:])
		n += m
		end, herr := sc.scan(h.buf[:n])
		if herr != nil {
			h.release()
			return nil, herr
		}
		if end > 0 {
			h.buf, h.n = h.buf[:n], end
			return h, nil
		}
		if err != nil {
			h.release()
			if errors.Is(err, io.EOF) && n > 0 {
				return nil, badHead(http.StatusBadRequest, "request head cut short")
			}
			return nil, err
		}
	}
}

// headScanner checks a request head incrementally: each call looks only at
// the bytes not seen before.
type headScanner struct {
	seen       int  // bytes already checked
	methodDone bool // the method's space was seen
	lineDone   bool // the request line was complete and valid
}

// maxMethod is the longest method we read before refusing: ours are GET
// and HEAD.
const maxMethod = 16

// scan checks b (the head so far, growing between calls) and returns the
// head's length once its empty line arrived, or the reason it is refused.
func (s *headScanner) scan(b []byte) (int, error) {
	for i := s.seen; i < len(b); i++ {
		c := b[i]
		if !s.methodDone {
			// The method is a token (RFC 9110 §9.1): a TLS record (0x16),
			// binary or text garbage is refused on its first bytes.
			if c == ' ' && i > 0 {
				s.methodDone = true
			} else if !isTokenChar(c) || i >= maxMethod {
				return 0, badHead(http.StatusBadRequest, "not an HTTP request")
			}
		}
		switch c {
		case '\n':
			if i == 0 || b[i-1] != '\r' {
				// RFC 9112 §2.2 allows a server to accept a bare LF; we
				// refuse it, as a request smuggled past a proxy would use it.
				return 0, badHead(http.StatusBadRequest, "bare LF in request head")
			}
			if !s.lineDone {
				if err := checkRequestLine(b[:i-1]); err != nil {
					return 0, err
				}
				s.lineDone = true
			} else if i >= 3 && b[i-2] == '\n' && b[i-3] == '\r' {
				s.seen = i + 1
				return i + 1, nil
			}
		case '\r':
			if i+1 < len(b) && b[i+1] != '\n' {
				return 0, badHead(http.StatusBadRequest, "bare CR in request head")
			}
		case 0:
			return 0, badHead(http.StatusBadRequest, "NUL in request head")
		}
	}
	s.seen = len(b)
	if len(b) > 0 && b[len(b)-1] == '\r' {
		s.seen-- // what follows a CR is checked when it comes
	}
	return 0, nil
}

// checkRequestLine checks "METHOD SP target SP HTTP/1.x" (RFC 9112 §3).
func checkRequestLine(line []byte) error {
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || bytes.IndexByte(version, ' ') >= 0 {
		return badHead(http.StatusBadRequest, "malformed request line")
	}
	if !bytes.Equal(version, []byte("HTTP/1.1")) && !bytes.Equal(version, []byte("HTTP/1.0")) {
		return badHead(http.StatusBadRequest, "not HTTP/1.x")
	}
	for _, c := range target {
		if c <= ' ' || c == 0x7f {
			return badHead(http.StatusBadRequest, "malformed request target")
		}
	}
	// A WebSocket upgrade is a GET (RFC 6455 §4.1); the pages are GET or HEAD.
	if m := string(method); m != http.MethodGet && m != http.MethodHead {
		return badHead(http.StatusMethodNotAllowed, "method not allowed")
	}
	return nil
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110 §5.6.2).
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0
}
