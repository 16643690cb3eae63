package gateway

// transport is a connection's engine, as the rest of the gateway sees it:
// the poller that owns its socket (*poller, epoll_conn.go) or its own
// net.Conn with a reader goroutine and a writer goroutine (*netConn,
// netconn.go). Conn, write.go and server.go act on a connection through it
// and never ask which engine it is on. Each method takes the connection,
// since one poller serves thousands; none is called per byte, and none
// allocates.
type transport interface {
	// clock is the time at which c's reads are recorded (Conn.lastRead),
	// in unix nanos.
	clock() int64
	// inflightLocked is what the engine holds of c's output outside
	// Conn.out.frames and has still to write: the batch a writer goroutine
	// writes. c.mu is held.
	inflightLocked(c *Conn) int
	// writeLocked gets c's queue written after a frame was added to it,
	// never waiting for the network: at once as far as the socket takes
	// it, or on a writer goroutine. c.mu is held.
	writeLocked(c *Conn)
	// shutLocked closes TCP once c's queue is written (at once when it
	// is): outright in connCloseDone, half (a lingering close) in
	// connFailing. c.mu is held.
	shutLocked(c *Conn)
	// awaitClose bounds the wait for the client's close frame, which
	// must come by Conn.closeBy; a reader blocked on the socket wakes then.
	awaitClose(c *Conn)
	// abort closes c's socket soon, whatever is queued; c is in
	// connKilled. c.mu is not held.
	abort(c *Conn)
	// wake has the engine come back to c, for a message whose inflating
	// yielded (inflate.go).
	wake(c *Conn)
}
