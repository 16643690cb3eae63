package gateway

import "github.com/gobwas/ws"

// reader is a connection's reading state between two reads: the message
// being assembled, the data frame whose payload is still arriving, and a
// compressed message being inflated. It exists only while one of those is
// under way: a connection between messages has none (issue 5: an idle
// connection's every byte counts).
//
// A payload is kept as it arrives, never from the length its header
// announces (issue 10: 400 headers announcing 10 MiB each grew a worker by
// 478 MiB): in pooled chunks (chunks.go), given back once the message is
// delivered.
type reader struct {
	op         ws.OpCode // OpText or OpBinary; 0 when no message is open
	compressed bool      // RSV1 was set on its first frame (RFC 7692 §6.1)
	data       chunks    // the payload so far (compressed bytes if compressed)
	utf8       utf8State // an uncompressed text message, checked as it arrives

	// The data frame under way.
	frameOpen bool
	fin       bool
	left      int64   // payload bytes still to come
	mask      [4]byte // the frame's masking key
	pos       int     // the key's offset for the next payload byte

	inf *inflater // a complete compressed message being inflated
}

// release gives back what r holds, the chunks of an unfinished message and
// its inflater, when the connection ends in the middle of it; r is not
// used after.
func (r *reader) release() {
	if r == nil {
		return
	}
	r.data.release()
	if r.inf != nil {
		r.inf.release()
		r.inf = nil
	}
}

// open reports whether a message is open (its final frame not yet here).
func (r *reader) open() bool { return r != nil && r.op != 0 }

// inFrame reports whether a data frame's payload is still arriving.
func (r *reader) inFrame() bool { return r != nil && r.frameOpen }

// busy reports whether a message is being inflated: nothing more is read
// until it is done (see inflate.go).
func (r *reader) busy() bool { return r != nil && r.inf != nil }

// size is the open message's payload so far.
func (r *reader) size() int {
	if r == nil {
		return 0
	}
	return r.data.len()
}

// startFrame begins a data frame whose payload is not all in the buffer, or
// that continues a fragmented message.
func (c *Conn) startFrame(hdr ws.Header, budget *int) error {
	if c.rd == nil {
		c.rd = &reader{}
	}
	r := c.rd
	if hdr.OpCode != ws.OpContinuation {
		r.op, r.compressed = hdr.OpCode, hdr.Rsv1()
	}
	r.frameOpen, r.fin, r.left, r.mask, r.pos = true, hdr.Fin, hdr.Length, hdr.Mask, 0
	if r.left == 0 {
		return c.endFrame(budget)
	}
	return nil
}

// payload takes the frame under way's bytes from the start of b and returns
// how many it used.
func (c *Conn) payload(b []byte, budget *int) (int, error) {
	r := c.rd
	p := b[:min(int64(len(b)), r.left)]
	ws.Cipher(p, r.mask, r.pos)
	r.pos += len(p)
	r.left -= int64(len(p))
	c.bytesIn.Add(uint64(len(p)))
	if r.op == ws.OpText && !r.compressed && !r.utf8.feed(p) {
		return len(p), errInvalidUTF8 // at the first bad byte, not the message's end
	}
	r.data.write(p)
	if r.left > 0 {
		return len(p), nil
	}
	return len(p), c.endFrame(budget)
}

// endFrame ends the frame under way; after the final one it delivers the
// message, or starts inflating it.
func (c *Conn) endFrame(budget *int) error {
	r := c.rd
	r.frameOpen = false
	if !r.fin {
		return nil
	}
	op, data, compressed, text := r.op, &r.data, r.compressed, r.utf8.done()
	c.rd = nil
	defer data.release() // the chunks go with the message
	if compressed {
		return c.inflate(op, data.bytes(), budget)
	}
	if op == ws.OpText && !text {
		return errInvalidUTF8 // it ended inside a character
	}
	return c.deliver(op, data.bytes())
}

// whole handles a message that came in one frame, all in the buffer.
func (c *Conn) whole(op ws.OpCode, payload []byte, compressed bool, budget *int) error {
	if compressed {
		return c.inflate(op, payload, budget)
	}
	if op == ws.OpText && !validUTF8(payload) {
		return errInvalidUTF8
	}
	return c.deliver(op, payload)
}

// deliver hands a complete message to the application.
func (c *Conn) deliver(op ws.OpCode, data []byte) error {
	c.msgsIn.Add(1)
	c.srv.msgsIn.Add(1)
	c.mu.Lock()
	closing := c.closingLocked()
	c.mu.Unlock()
	if closing {
		return nil // RFC 6455 §5.5.1: data after our close frame is dropped
	}
	c.srv.handler.OnMessage(c, Message{Binary: op == ws.OpBinary, Data: data})
	return nil
}
