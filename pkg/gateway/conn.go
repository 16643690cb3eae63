package gateway

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
)

// Conn is one upgraded WebSocket connection.
//
// Its methods are safe for concurrent use. Send and Close never block on the
// network.
type Conn struct {
	srv *Server
	// id is the connection's id, the first part of one allocation that
	// holds the remote address right behind it (setIdent; remoteLen below).
	id      string
	extra   *handshakeExtra // nil: no subprotocol, URI "/", no kept headers
	created int64           // unix nanos

	// Value is free for the application; only the connection's own
	// callbacks should touch it.
	Value any

	// The transport (transport.go): a plain TCP connection's poller, which
	// owns its socket fd; a TLS connection's netConn, with fd -1.
	tr      transport
	fd      int32
	drained int32 // poller: bytes discarded during a lingering close

	// Reading state, owned by the reader goroutine or the poller.
	rd *reader // nil between messages
	in input

	mu        sync.Mutex
	out       *output   // the write queue (output.go); nil while nothing waits
	deflate   wbits     // permessage-deflate: the server's window bits, 0 when not negotiated
	state     connState // where the connection is in its life (lifecycle.go)
	pongLast  bool      // the queue ends with a pong of which nothing is written
	closeCode ws.StatusCode
	remoteLen uint16  // the remote address's bytes, behind id's (setIdent)
	closeWhy  *string // the reason of the close frame queued first; nil: none
	epollState

	lastRead   atomic.Int64 // unix nanos of the last read; the idle check
	closeBy    atomic.Int64 // unix nanos by which a close must be over; 0: none
	stallSince atomic.Int64 // poller: the socket is full since; 0: it is not

	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	msgsIn   atomic.Uint64
	msgsOut  atomic.Uint64
}

// ID is the connection's cluster-wide id.
func (c *Conn) ID() string { return c.id }

// RemoteAddr is the client's address as host:port, or as a trusted proxy
// reported it (Options.TrustedProxies).
func (c *Conn) RemoteAddr() string {
	if c.remoteLen == 0 {
		return ""
	}
	// The bytes right behind id's, in the same allocation (setIdent).
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(c.id)), len(c.id))), int(c.remoteLen))
}

// maxRemoteLen bounds a remote address kept by setIdent; a real one (an IP
// and port) is under 64 bytes.
const maxRemoteLen = math.MaxUint16

// setIdent keeps the connection's id (prefix followed by suffix) and its
// remote address in one allocation: an idle connection's every byte counts
// (issue 16), and one string header and one allocation less is 16 bytes
// of Conn and a small object less per connection. c.id is the first part;
// RemoteAddr reads the remoteLen bytes behind it. c is not shared yet.
func (c *Conn) setIdent(prefix string, suffix []byte, remote string) {
	remote = remote[:min(len(remote), maxRemoteLen)]
	joined := prefix + string(suffix) + remote // one allocation
	c.id = joined[:len(joined)-len(remote)]
	c.remoteLen = uint16(len(remote))
}

// Subprotocol is the negotiated subprotocol, or "".
func (c *Conn) Subprotocol() string {
	if c.extra == nil {
		return ""
	}
	return c.extra.protocol
}

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.deflate != 0 }

// Header is the upgrade request's headers (Options.KeepHeaders; nil
// otherwise), one value per name, repeated ones joined with ", ". gobwas/ws
// consumes Upgrade, Connection and the Sec-WebSocket-* headers itself; they
// are not here. Read-only.
func (c *Conn) Header() map[string]string {
	if c.extra == nil {
		return nil
	}
	return c.extra.header
}

// RequestURI is the path and query of the upgrade request.
func (c *Conn) RequestURI() string {
	if c.extra == nil {
		return "/"
	}
	return c.extra.uri
}

// handshakeExtra is what few connections need kept from their upgrade; most
// have none, and an idle connection's every byte counts (issue 5).
type handshakeExtra struct {
	protocol string
	uri      string
	header   map[string]string
}

// Send queues one message. It fails with ErrClosed once the connection is
// closing, and with ErrSendBufferFull (and closes the connection with 1008)
// when the client has fallen more than Options.SendBuffer behind the frame
// being written (see enqueue).
func (c *Conn) Send(op ws.OpCode, data []byte) error {
	if c.compresses(len(data)) {
		return c.enqueue(compileDeflated(op, data), false)
	}
	return c.enqueue(compile(op, data), false)
}

// SendFrame queues a frame encoded once by PrepareFrame, for sending the same
// bytes to many connections.
func (c *Conn) SendFrame(f *PreparedFrame) error {
	return c.enqueue(f.bytesFor(c), false)
}

// Close starts the closing handshake with code and reason: the close frame
// goes out after what is already queued, and the TCP connection is closed
// when the client answers or after Options.CloseTimeout. It is safe to call
// more than once; only the first call's code is sent.
//
// A code that may not be sent (see Sendable) is logged and sent as 1011
// instead, so the client still sees a valid close frame; 1005 sends an
// empty close frame. The reason is cut to the 123 bytes a close frame holds,
// on a character boundary, and invalid UTF-8 in it is replaced.
func (c *Conn) Close(code ws.StatusCode, reason string) {
	if !Sendable(code) && code != ws.StatusNoStatusRcvd {
		c.srv.log.Warn("close code may not be sent; closing with 1011 instead", "conn", c.id, "code", int(code))
		code = ws.StatusInternalServerError
	}
	c.startClose(code, reason, false)
}

// StatusCode converts an int close code (an application's, a backend's) to
// a ws.StatusCode; a value outside 0-65535 becomes 0, which Sendable
// refuses, instead of wrapping around to some other code.
func StatusCode(code int) ws.StatusCode {
	if code < 0 || code > 0xffff {
		return 0
	}
	return ws.StatusCode(code)
}

// Sendable reports whether an endpoint may send code in a close frame (RFC
// 6455 §7.4 and the IANA registry): 1000-1003, 1007-1014 and 3000-4999.
// 1004, 1005, 1006 and 1015 are reserved or only reported locally.
func Sendable(code ws.StatusCode) bool {
	return code >= 1000 && code <= 1003 || code >= 1007 && code <= 1014 || code >= 3000 && code <= 4999
}

// touch records that bytes arrived, for the idle check.
func (c *Conn) touch() {
	c.lastRead.Store(c.tr.clock())
}

// ConnInfo is a snapshot of one connection for status listings.
type ConnInfo struct {
	ID          string    `json:"id"`
	Remote      string    `json:"remote"`
	BytesIn     uint64    `json:"bytes_in"`
	BytesOut    uint64    `json:"bytes_out"`
	MessagesIn  uint64    `json:"messages_in"`
	MessagesOut uint64    `json:"messages_out"`
	Created     time.Time `json:"created"`
}

func (c *Conn) info() ConnInfo {
	return ConnInfo{
		ID: c.id, Remote: c.RemoteAddr(), Created: time.Unix(0, c.created),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		MessagesIn: c.msgsIn.Load(), MessagesOut: c.msgsOut.Load(),
	}
}
