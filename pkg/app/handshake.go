package app

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// Handshake is a client's upgrade request, as an Admitter's Admit and
// OnOpen (Conn.Handshake) see it. It is only valid until OnOpen returns:
// keep what you need, not the Handshake.
type Handshake struct {
	// URI is the request's path and query, as sent, except that with
	// -jwt-secret-file / -jwt-key-file the checked token parameter is
	// gone (User says whose it was).
	URI string
	// Host is the Host header.
	Host string
	// Header holds the request's headers, Cookie and Authorization
	// included, but not Host nor the ones the WebSocket handshake itself
	// uses (Upgrade, Connection, Sec-WebSocket-*).
	Header http.Header
	// RemoteAddr is the client's address, host:port, or the one a
	// -trusted-proxy reported.
	RemoteAddr string
	// Subprotocol is the subprotocol the server chose, or "".
	Subprotocol string
	// User is the sub of the connection token the worker verified
	// (-jwt-secret-file, -jwt-key-file), or "" without them. The
	// connection is bound to it before OnOpen.
	User string
}

// Path is the request URI's path.
func (h *Handshake) Path() string {
	u, err := url.ParseRequestURI(h.URI)
	if err != nil {
		return ""
	}
	return u.Path
}

// Query is the request URI's query parameters.
func (h *Handshake) Query() url.Values {
	u, err := url.ParseRequestURI(h.URI)
	if err != nil {
		return url.Values{}
	}
	return u.Query()
}

// Cookie returns the named cookie, or http.ErrNoCookie.
func (h *Handshake) Cookie(name string) (*http.Cookie, error) {
	return (&http.Request{Header: h.Header}).Cookie(name)
}

// Refusal refuses an upgrade from Admit with an HTTP status (401, 403,
// 429, ...) and a reason, the response's text. The client sees no
// WebSocket connection at all: browsers report the failure to the page
// without the status, so use it for who may connect, not for messages.
type Refusal struct {
	Status int
	Reason string
}

func (r *Refusal) Error() string { return fmt.Sprintf("app: refused: %d %s", r.Status, r.Reason) }

// Admitter is implemented by applications that decide, from the upgrade
// request, who may connect: their own tokens, cookies or API keys, an
// address list. Admit runs on the handshake's goroutine before the server
// answers the upgrade, after the worker's own checks (-allow-origin, the
// connection token); it may block, within the 10 s handshake timeout.
//
// It returns the value the connection starts with (c.Value() in OnOpen:
// the session, the user), or an error refusing the upgrade: a *Refusal
// with its status, any other error with 500 (logged, as is a panic).
type Admitter interface {
	Admit(h *Handshake) (any, error)
}

// StatusTokenExpired is the close code of a connection whose token
// expired (-jwt-expire-close) without a refresh (Worker.RefreshToken).
const StatusTokenExpired = 4001

// ErrNoTokens: RefreshToken was called on a worker that checks no tokens
// (neither -jwt-secret-file nor -jwt-key-file).
var ErrNoTokens = errors.New("app: this server checks no connection tokens")
