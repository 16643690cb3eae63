package gateway

import "unicode/utf8"

// input keeps the bytes of a partial frame header or control frame between
// two reads (at most 14+125 bytes), or the frames read behind a compressed
// message whose inflating goes on in the next round; nil on an idle
// connection. It points to the kept slice, made only while bytes are kept:
// an idle Conn holds 8 bytes for it rather than a slice's 24 (issue 16).
type input struct{ p *[]byte }

// bytes is what is kept; nil when nothing is.
func (in input) bytes() []byte {
	if in.p == nil {
		return nil
	}
	return *in.p
}

// set keeps b; an empty b drops what was kept.
func (in *input) set(b []byte) {
	if len(b) == 0 {
		in.p = nil
		return
	}
	if in.p == nil {
		in.p = new([]byte)
	}
	*in.p = b
}

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
		if kept := c.in.bytes(); err == nil && !c.rd.busy() && len(kept) > 0 {
			err = c.keep(kept, &budget) // the frames read behind it
		}
		if err != nil {
			c.in.set(nil)
			return err
		}
		if c.rd.busy() {
			c.yield()
			return nil
		}
	}
	kept := c.in.bytes()
	var buf []byte
	if len(kept) == 0 {
		buf = scratch
	} else {
		buf = kept[len(kept):cap(kept)]
	}
	n, rerr := read(buf)
	if n <= 0 {
		return rerr
	}
	c.touch()
	var err error
	if len(kept) == 0 {
		err = c.keep(buf[:n], &budget)
	} else {
		kept = kept[:len(kept)+n]
		c.in.set(kept)
		err = c.keep(kept, &budget)
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
	kept := c.in.bytes()
	if len(kept) == 0 {
		return nil
	}
	budget := inflateRound
	if err := c.keep(kept, &budget); err != nil {
		return err
	}
	if c.rd.busy() {
		c.yield()
	}
	return nil
}

// keep consumes b, which is what c.in keeps or a scratch buffer, and keeps
// what is left in c.in with room for a read.
func (c *Conn) keep(b []byte, budget *int) error {
	used, err := c.consume(b, budget)
	if err != nil {
		c.in.set(nil)
		return err
	}
	rest := b[used:]
	if len(rest) == 0 {
		c.in.set(nil)
		return nil
	}
	room := len(rest) + minRead
	if kept := c.in.bytes(); cap(kept) >= room && cap(kept) <= 2*room && len(kept) > 0 && &b[0] == &kept[0] {
		c.in.set(kept[:copy(kept, rest)]) // shift within the kept buffer
		return nil
	}
	nb := make([]byte, len(rest), room)
	copy(nb, rest)
	c.in.set(nb)
	return nil
}

// yield has the connection's engine come back to a message being
// inflated: the poller after its other connections (a wake-up), the
// goroutine engine by calling readOnce again, which it does anyway.
func (c *Conn) yield() { c.tr.wake(c) }

// validUTF8 checks a whole text message.
func validUTF8(p []byte) bool { return utf8.Valid(p) }
