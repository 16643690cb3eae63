package gateway

import (
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// Close codes wsfleet sends that gobwas/ws does not name (RFC 6455 §7.4.1 and
// the IANA WebSocket Close Code Number Registry).
const (
	// StatusServiceRestart (1012): the worker is being replaced by a reload;
	// reconnecting will reach another worker.
	StatusServiceRestart ws.StatusCode = 1012
	// StatusTryAgainLater (1013): the server is overloaded.
	StatusTryAgainLater ws.StatusCode = 1013
)

// Errors returned by Conn.Send.
var (
	// ErrClosed: the connection is closing or closed.
	ErrClosed = errors.New("gateway: connection closed")
	// ErrSendBufferFull: the frame would have taken the connection's
	// backlog over Options.SendBuffer; it is being closed with 1008.
	ErrSendBufferFull = errors.New("gateway: send buffer full")
)

// CloseError asks for a connection to be closed with Code and Reason. An
// OnOpen that returns one closes the new connection with it.
type CloseError struct {
	Code   ws.StatusCode
	Reason string
}

func (e *CloseError) Error() string {
	return fmt.Sprintf("gateway: close %d %s", e.Code, e.Reason)
}

// errIdleTimeout: nothing was read from the client for
// Options.IdleTimeout, not even a pong.
var errIdleTimeout = errors.New("gateway: idle timeout")

// closeFor maps why the server fails a connection to the code and reason
// of its close frame: every such reason is mapped here, in one switch. A
// connection that ends without a close frame reports 1006 (lifecycle.go).
func closeFor(err error) (ws.StatusCode, string) {
	var ce *CloseError
	var pe ws.ProtocolError
	switch {
	case errors.As(err, &ce):
		return ce.Code, ce.Reason
	case errors.Is(err, errIdleTimeout):
		return ws.StatusGoingAway, "idle timeout"
	case errors.Is(err, ErrSendBufferFull):
		return ws.StatusPolicyViolation, "send buffer full"
	case errors.As(err, &pe):
		return ws.StatusProtocolError, string(pe)
	case errors.Is(err, errTooBig):
		return ws.StatusMessageTooBig, "message too big"
	case errors.Is(err, errInvalidUTF8):
		return ws.StatusInvalidFramePayloadData, "invalid UTF-8 in text message"
	default:
		return ws.StatusInternalServerError, "internal error"
	}
}
