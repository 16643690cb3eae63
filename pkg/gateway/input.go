package gateway

import "unicode/utf8"

// input keeps the bytes of a partial frame header or control frame between
// two reads (at most 14+125 bytes), or the frames read behind a compressed
// message whose inflating goes on in the next round; nil on an idle
// connection.
type input struct{ b []byte }

// minRead is the least room given to one read when input is kept.
const minRead = 4096

// readOnce reads once with read, into the kept input or else into scratch
// (a buffer the caller owns and reuses), and consumes what it can. A message
// being inflated goes on first, and nothing is read until it is done. It
// returns the read error (io.EOF at the end) or consume's.
func (c *Conn) readOnce(read func([]byte) (int, error), scratch []byte) error {
	budget := inflateRound
	if c.rd.busy() {
		err := c.resumeInflate(&budget)
		if err == nil && !c.rd.busy() && len(c.in.b) > 0 {
			err = c.keep(c.in.b, &budget) // the frames read behind it
		}
		if err != nil {
			c.in.b = nil
			return err
		}
		if c.rd.busy() {
			c.yield()
			return nil
		}
	}
	in := &c.in
	var buf []byte
	if len(in.b) == 0 {
		buf = scratch
	} else {
		buf = in.b[len(in.b):cap(in.b)]
	}
	n, rerr := read(buf)
	if n <= 0 {
		return rerr
	}
	c.touch()
	var err error
	if len(in.b) == 0 {
		err = c.keep(buf[:n], &budget)
	} else {
		in.b = in.b[:len(in.b)+n]
		err = c.keep(in.b, &budget)
	}
	if err != nil {
		return err
	}
	if c.rd.busy() {
		c.yield()
	}
	return rerr
}

// consumePending handles frames already kept in c.in (the bytes a client
// sent right behind its upgrade request).
func (c *Conn) consumePending() error {
	if len(c.in.b) == 0 {
		return nil
	}
	budget := inflateRound
	if err := c.keep(c.in.b, &budget); err != nil {
		return err
	}
	if c.rd.busy() {
		c.yield()
	}
	return nil
}

// keep consumes b, which is c.in.b or a scratch buffer, and keeps what is
// left in c.in with room for a read.
func (c *Conn) keep(b []byte, budget *int) error {
	used, err := c.consume(b, budget)
	if err != nil {
		c.in.b = nil
		return err
	}
	rest := b[used:]
	if len(rest) == 0 {
		c.in.b = nil
		return nil
	}
	room := len(rest) + minRead
	if cap(c.in.b) >= room && cap(c.in.b) <= 2*room && len(c.in.b) > 0 && &b[0] == &c.in.b[0] {
		c.in.b = c.in.b[:copy(c.in.b, rest)] // shift within the kept buffer
		return nil
	}
	nb := make([]byte, len(rest), room)
	copy(nb, rest)
	c.in.b = nb
	return nil
}

// yield has the connection's engine come back to a message being
// inflated: the poller after its other connections (a wake-up), the
// goroutine engine by calling readOnce again, which it does anyway.
func (c *Conn) yield() { c.tr.wake(c) }

// validUTF8 checks a whole text message.
func validUTF8(p []byte) bool { return utf8.Valid(p) }
