package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/gobwas/ws"
)

// Request is an upgrade request as Options.Admit sees it. It is only valid
// until Admit returns: keep what you need, not the Request.
type Request struct {
	// URI is the request's path and query, as sent. Admit may rewrite it,
	// to drop a credential from the query: the connection keeps what
	// Admit left (Conn.RequestURI).
	URI string
	// Host is the Host header.
	Host string
	// Header holds the request's headers but Host and the ones gobwas/ws
	// consumes itself (Upgrade, Connection, Sec-WebSocket-*).
	Header http.Header
	// RemoteAddr is the client's address: the peer's, or the one a
	// trusted proxy reported (Options.TrustedProxies).
	RemoteAddr string
	// Subprotocol is the subprotocol the server chose, or "".
	Subprotocol string
}

// Refusal, returned by Options.Admit, refuses an upgrade with an HTTP
// status (401, 403, 429, ...), its reason as the response's text, and
// extra response headers (WWW-Authenticate, Retry-After, ...).
type Refusal struct {
	Status int
	Reason string
	Header http.Header
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("gateway: upgrade refused: %d %s", r.Status, r.Reason)
}

// admitApp asks Options.Admit about hs's request; the error it returns makes
// gobwas/ws answer with the refusal's status instead of 101. Another error
// than a *Refusal, or a panic, is the server's fault: 500, logged.
func (s *Server) admitApp(hs *handshake) (err error) {
	if s.opts.Admit == nil {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("admission panicked", "remote", hs.remote, "panic", r, "stack", string(debug.Stack()))
			err = ws.RejectConnectionError(ws.RejectionStatus(http.StatusInternalServerError), ws.RejectionReason("internal error"))
		}
	}()
	req := &Request{URI: hs.uri, Host: hs.host, Header: hs.reqHeader, RemoteAddr: hs.remote, Subprotocol: hs.protocol}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	v, err := s.opts.Admit(req)
	if err == nil {
		hs.admitted, hs.uri = v, req.URI
		return nil
	}
	var rf *Refusal
	if !errors.As(err, &rf) {
		s.log.Error("admission failed", "remote", hs.remote, "err", err)
		rf = &Refusal{Status: http.StatusInternalServerError, Reason: "internal error"}
	}
	if rf.Status < 400 || rf.Status > 599 {
		s.log.Warn("admission refused with a status that is no error; sending 403", "status", rf.Status)
		rf = &Refusal{Status: http.StatusForbidden, Reason: rf.Reason, Header: rf.Header}
	}
	hs.failAs(FailAdmit)
	if rf.Status == http.StatusUnauthorized {
		hs.failAs(FailAuth)
	}
	opts := []ws.RejectOption{ws.RejectionStatus(rf.Status), ws.RejectionReason(rf.Reason)}
	if len(rf.Header) > 0 {
		opts = append(opts, ws.RejectionHeader(ws.HandshakeHeaderHTTP(rf.Header)))
	}
	return ws.RejectConnectionError(opts...)
}
