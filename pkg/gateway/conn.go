package gateway

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Conn is one upgraded WebSocket connection.
//
// Its methods are safe for concurrent use. Send and Close never block on the
// network.
type Conn struct {
	srv      *Server
	nc       net.Conn
	id       string
	remote   string
	protocol string
	uri      string
	deflate  bool // permessage-deflate was negotiated
	header   map[string]string
	created  time.Time

	// Value is free for the application; only the connection's own
	// callbacks should touch it.
	Value any

	mu        sync.Mutex
	outbox    net.Buffers // frames waiting for the writer
	queued    int         // bytes in outbox
	writing   bool        // a writer goroutine is running
	closeSent bool        // a close frame is queued: no more data frames
	closing   bool        // close TCP once the outbox is written
	linger    bool        // ...only half-close it; the reader drains
	closeCode ws.StatusCode
	closeWhy  string

	tcpOnce  sync.Once
	tcpGone  chan struct{} // closed when the TCP connection is closed
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
	msgsIn   atomic.Uint64
	msgsOut  atomic.Uint64
}

// ID is the connection's cluster-wide id.
func (c *Conn) ID() string { return c.id }

// RemoteAddr is the client's address as host:port, or as a trusted proxy
// reported it (Options.TrustedProxies).
func (c *Conn) RemoteAddr() string { return c.remote }

// Subprotocol is the negotiated subprotocol, or "".
func (c *Conn) Subprotocol() string { return c.protocol }

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.deflate }

// Header is the upgrade request's headers (Options.KeepHeaders; nil
// otherwise), one value per name, repeated ones joined with ", ". gobwas/ws
// consumes Upgrade, Connection and the Sec-WebSocket-* headers itself; they
// are not here. Read-only.
func (c *Conn) Header() map[string]string { return c.header }

// RequestURI is the path and query of the upgrade request.
func (c *Conn) RequestURI() string { return c.uri }

// Send queues one message. It fails with ErrClosed once the connection is
// closing, and with ErrSendBufferFull (and closes the connection with 1008)
// when the client has fallen more than Options.SendBuffer behind.
func (c *Conn) Send(op ws.OpCode, data []byte) error {
	if c.deflate && len(data) >= deflateMin {
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
func (c *Conn) Close(code ws.StatusCode, reason string) {
	c.startClose(code, reason, false)
}

// startClose queues a close frame unless one was queued already. With now
// set, TCP is closed as soon as the frame is written (failing the connection,
// RFC 6455 §7.1.7); otherwise the reader waits for the client's close frame,
// bounded by CloseTimeout.
func (c *Conn) startClose(code ws.StatusCode, reason string, now bool) {
	c.mu.Lock()
	if c.closeSent {
		if now {
			c.closeAfterFlushLocked(true)
		}
		c.mu.Unlock()
		return
	}
	c.closeSent = true
	c.closeCode, c.closeWhy = code, reason
	c.appendLocked(closeFrame(code, reason))
	if now {
		c.closeAfterFlushLocked(true)
	}
	c.mu.Unlock()
	if !now {
		// Wake the reader if the client never answers (RFC 6455 §7.1.1).
		c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.CloseTimeout))
	}
}

// halfClose sends FIN after the close frame but keeps reading, so that data
// the client sent meanwhile is drained rather than answered with a reset
// that could destroy the close frame in flight (a lingering close).
func (c *Conn) halfClose() {
	if tc, ok := c.nc.(interface{ CloseWrite() error }); ok {
		if tc.CloseWrite() == nil {
			return
		}
	}
	c.closeTCP()
}

// closeTCP closes the socket once; the reader and the writer see errors.
func (c *Conn) closeTCP() {
	c.tcpOnce.Do(func() {
		c.nc.Close()
		close(c.tcpGone)
	})
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
		ID: c.id, Remote: c.remote, Created: c.created,
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		MessagesIn: c.msgsIn.Load(), MessagesOut: c.msgsOut.Load(),
	}
}
