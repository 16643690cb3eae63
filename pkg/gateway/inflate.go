package gateway

import (
	"compress/flate"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/ws"
)

// Inflating a compressed message (RFC 7692) is the one piece of reading
// whose cost a client does not pay for byte by byte: 10 KiB can inflate to
// 10 MiB. So it is bounded three ways (issue 10, the deflate bomb):
//   - in output per message: past Options.MaxMessage it fails with 1009 as
//     soon as the limit is passed, never after inflating all of it;
//   - in CPU per round: one call of readOnce inflates at most inflateRound
//     bytes (64 KiB), then the connection yields: a poller serves its other
//     connections and comes back to it with a wake-up (a bomb had cut
//     another client's echo from 57k to 36 messages/s);
//   - in memory: the output is kept in pooled chunks as it is inflated
//     (chunks.go): a bomb allocates nothing, a delivered message one buffer
//     of its size; and a connection reads nothing more until its message
//     is done.

// inflateRound is how many bytes one connection may inflate per round of
// its poller: as many as one read takes (pollBufferSize), so an inflating
// connection costs its neighbours no more per round than a reading one
// (about 0.2 ms of CPU). 256 KiB was tried first: on a loaded machine, and
// under the race detector, a round's CPU stretches tenfold in wall time, and
// bystanders' echoes took 120-160 ms during bombs; the extra wake-ups of
// smaller rounds cost a few microseconds each.
const inflateRound = 64 << 10

// inflater inflates one message, in steps.
type inflater struct {
	fr    io.ReadCloser // compress/flate's reader, reused through inflaters
	src   source
	out   chunks
	op    ws.OpCode
	utf8  utf8State
	owned bool // src is the inflater's own copy, not a buffer reused after
}

var inflaters = sync.Pool{New: func() any {
	f := &inflater{}
	f.fr = flate.NewReader(&f.src)
	return f
}}

// source is the compressed payload followed by the tail the sender
// stripped (RFC 7692 §7.2.2). It is an io.ByteReader, so compress/flate
// reads it byte by byte without buffering ahead: where it stands is where
// the inflating stands, and the unread part can be moved.
type source struct {
	b    []byte
	tail int // bytes of deflateTail already read
}

func (s *source) ReadByte() (byte, error) {
	if len(s.b) > 0 {
		b := s.b[0]
		s.b = s.b[1:]
		return b, nil
	}
	if s.tail < len(deflateTail) {
		s.tail++
		return deflateTail[s.tail-1], nil
	}
	return 0, io.EOF
}

func (s *source) Read(p []byte) (int, error) {
	if len(s.b) > 0 {
		n := copy(p, s.b)
		s.b = s.b[n:]
		return n, nil
	}
	if s.tail < len(deflateTail) {
		n := copy(p, deflateTail[s.tail:])
		s.tail += n
		return n, nil
	}
	return 0, io.EOF
}

// inflate starts inflating a complete compressed message, data, which is
// only valid until inflate returns (the read buffer, or chunks given back).
func (c *Conn) inflate(op ws.OpCode, data []byte, budget *int) error {
	f := inflaters.Get().(*inflater)
	f.src, f.op, f.owned = source{b: data}, op, false
	f.fr.(flate.Resetter).Reset(&f.src, nil) // cannot fail without a dictionary
	if c.rd == nil {
		c.rd = &reader{}
	}
	c.rd.inf = f
	return c.resumeInflate(budget)
}

// resumeInflate inflates the message under way for at most the budget,
// delivers it when it is complete and lets the inflater go.
func (c *Conn) resumeInflate(budget *int) error {
	f := c.rd.inf
	done, err := f.step(budget, int(c.srv.opts.MaxMessage))
	if !done && err == nil {
		if !f.owned {
			// The input's buffer is about to be reused: keep the rest.
			f.src.b = append([]byte(nil), f.src.b...)
			f.owned = true
		}
		return nil
	}
	c.rd = nil
	defer f.release()
	if err != nil {
		return err
	}
	return c.deliver(f.op, f.out.bytes())
}

// step inflates until the message is done, fails, or the budget is spent.
func (f *inflater) step(budget *int, limit int) (done bool, err error) {
	for *budget > 0 {
		room := f.out.spare()
		// limit+1: one byte over tells, and no more is inflated.
		k := min(len(room), *budget, limit+1-f.out.len())
		n, rerr := f.fr.Read(room[:k])
		f.out.grew(n)
		*budget -= max(n, 1)
		if f.out.len() > limit {
			return false, errTooBig
		}
		if f.op == ws.OpText && !f.utf8.feed(f.out.last(n)) {
			return false, errInvalidUTF8
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			// io.EOF after a final block; io.ErrUnexpectedEOF when the
			// input ends after the flush the tail stands for, which is how
			// a message ends (RFC 7692 §7.2.2).
			if f.op == ws.OpText && !f.utf8.done() {
				return false, errInvalidUTF8
			}
			return true, nil
		default:
			return false, ws.ProtocolError("bad compressed data: " + rerr.Error())
		}
	}
	return false, nil
}

// release returns f to the pool, pinning no buffer.
func (f *inflater) release() {
	f.out.release()
	f.src, f.utf8 = source{}, utf8State{}
	inflaters.Put(f)
}
