package gateway

import "unsafe"

// Where a connection's state lives (issue 16). A burst of handshakes
// allocates, for each connection, the Conn and its ident (id and remote
// address, setIdent) among the handshake's short-lived objects. Objects of
// one size class share spans, so a long-lived object in a class the
// handshake also uses ends up in spans that the handshake's garbage leaves
// holed, and a span is given back only when all of it is free: holes that
// an idle connection pays for as long as it lives. The handshake's own
// state (handshake) is 208 bytes, next to Conn's 192. So a Conn is
// allocated together with its ident, in a class of its own: connWith, a
// Conn with room behind it, 224 bytes for an ident of up to 32 bytes (an
// IPv4 client's of a short node name), 240 for one of up to 48. A longer
// ident takes an allocation of its own.

// connWith is a Conn followed by the room its ident is kept in.
type connWith[B any] struct {
	Conn
	room B
}

// allocConn returns a new Conn whose id (prefix followed by suffix) and
// remote address are kept as setIdent keeps them, in the Conn's own
// allocation when they fit in a connWith.
func allocConn(prefix string, suffix []byte, remote string) *Conn {
	remote = remote[:min(len(remote), maxRemoteLen)]
	var c *Conn
	var room []byte
	switch n := len(prefix) + len(suffix) + len(remote); {
	case n <= 32:
		w := new(connWith[[32]byte])
		c, room = &w.Conn, w.room[:0]
	case n <= 48:
		w := new(connWith[[48]byte])
		c, room = &w.Conn, w.room[:0]
	default:
		c = new(Conn)
		c.setIdent(prefix, suffix, remote)
		return c
	}
	room = append(append(append(room, prefix...), suffix...), remote...)
	c.id = unsafe.String(unsafe.SliceData(room), len(room)-len(remote))
	c.remoteLen = uint16(len(remote))
	return c
}
