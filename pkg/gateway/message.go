package gateway

// Message is one complete WebSocket message from a client.
type Message struct {
	// Binary is true for a binary message, false for text (valid UTF-8).
	Binary bool
	// Data is the payload, unmasked and reassembled from its fragments. It
	// is only valid until the callback returns: copy what you keep.
	Data []byte
}

// Handler receives a connection's events. See the package doc for which
// goroutine calls what, in what order.
type Handler interface {
	// OnOpen runs once the upgrade is done. Returning an error closes the
	// connection: with a *CloseError's code, or 1011 otherwise.
	OnOpen(c *Conn) error
	// OnMessage runs for every complete message.
	OnMessage(c *Conn, m Message)
	// OnClose runs once, after the connection left the registry, with the
	// close code sent or received (1006 when TCP dropped without one).
	OnClose(c *Conn, code int, reason string)
}
