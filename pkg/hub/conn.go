package hub

import (
	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// Conn is one of the worker's connections as its application sees it: the
// app.Conn its callbacks get, and the hub's Worker methods take. A worker
// may embed it in a type of its own (with what it keeps per connection);
// the hub still finds the gateway connection behind it.
type Conn struct {
	gc  *gateway.Conn
	val any
	hs  *app.Handshake // only while OnOpen runs
}

// MakeConn returns the application's view of c: it starts with the value
// v (an Admitter's) and the upgrade request hs, which Opened drops.
func MakeConn(c *gateway.Conn, v any, hs *app.Handshake) Conn {
	return Conn{gc: c, val: v, hs: hs}
}

// ID is the connection's cluster-wide id (a bus.ConnID).
func (c *Conn) ID() string { return c.gc.ID() }

// RemoteAddr is the client's address, or the one a trusted proxy reported.
func (c *Conn) RemoteAddr() string { return c.gc.RemoteAddr() }

// Send queues m for the connection.
func (c *Conn) Send(m app.Message) error { return c.gc.Send(opOf(m.Binary), m.Data) }

// Close starts the closing handshake with code and reason.
func (c *Conn) Close(code int, reason string) { c.gc.Close(gateway.StatusCode(code), reason) }

// Value is the application's value for the connection.
func (c *Conn) Value() any { return c.val }

// SetValue replaces the application's value for the connection.
func (c *Conn) SetValue(v any) { c.val = v }

// Handshake is the upgrade request until Opened.
func (c *Conn) Handshake() *app.Handshake { return c.hs }

// Opened drops the upgrade request once the application's OnOpen has
// returned: a connection keeps no headers it does not need.
func (c *Conn) Opened() { c.hs = nil }

// gatewayConn is the gateway connection behind c; a type embedding Conn
// has it too, which is how the hub knows its own connections.
func (c *Conn) gatewayConn() *gateway.Conn { return c.gc }

// local is an app.Conn of this package's making.
type local interface{ gatewayConn() *gateway.Conn }

// gatewayOf returns the gateway connection behind an application's Conn,
// or ErrNotLocal for a Conn the hub did not make.
func gatewayOf(c app.Conn) (*gateway.Conn, error) {
	if l, ok := c.(local); ok && l.gatewayConn() != nil {
		return l.gatewayConn(), nil
	}
	return nil, ErrNotLocal
}

func opOf(binary bool) ws.OpCode {
	if binary {
		return ws.OpBinary
	}
	return ws.OpText
}
