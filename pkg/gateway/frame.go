package gateway

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// The frame core: both engines (the epoll pollers for plain TCP, the
// goroutine per TLS connection) read bytes into a buffer and hand them to
// consume, which handles every complete frame in it and says how much it
// used. Only a partial frame is kept between reads (see input).

var (
	errTooBig      = errors.New("gateway: message too big")
	errInvalidUTF8 = errors.New("gateway: invalid UTF-8")
	// errPeerClosed ends reading after the client's close frame.
	errPeerClosed = errors.New("gateway: peer closed")
)

// message is the assembly state of one fragmented message. Its buffer
// exists only while such a message is open.
type message struct {
	op         ws.OpCode // OpText or OpBinary; 0 when no message is open
	compressed bool      // RSV1 was set on its first frame (RFC 7692 §6.1)
	data       []byte
}

// consume handles every complete frame at the start of b and returns how
// many bytes it used. When b ends inside a frame, need is that frame's full
// size once its header is known (0 before), so the caller can make room for
// it; the header was checked, so need is bounded by Options.MaxMessage.
// Payloads are unmasked in place: b must not be consumed twice. err ends the
// connection: errPeerClosed after the client's close frame, a
// ws.ProtocolError, errTooBig or errInvalidUTF8 to fail it.
func (c *Conn) consume(b []byte) (used, need int, err error) {
	for used < len(b) {
		hdr, size, err := parseHeader(b[used:])
		if err != nil {
			return used, 0, err
		}
		if size == 0 {
			return used, 0, nil // the header is incomplete
		}
		if err := c.checkHeader(hdr); err != nil {
			return used, 0, err
		}
		total := size + int(hdr.Length)
		if len(b)-used < total {
			return used, total, nil
		}
		payload := b[used+size : used+total]
		used += total
		if err := c.handleFrame(hdr, size, payload); err != nil {
			return used, 0, err
		}
	}
	return used, 0, nil
}

// parseHeader decodes a frame header from the start of b without copying
// (RFC 6455 §5.2). size is 0 when b holds only part of it.
func parseHeader(b []byte) (h ws.Header, size int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	size = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		size += 2
	case 127:
		size += 8
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		size += 4
	}
	if len(b) < size {
		return h, 0, nil
	}
	switch b[1] & 0x7f {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		if b[2]&0x80 != 0 {
			return h, 0, ws.ProtocolError(ws.ErrHeaderLengthMSB.Error())
		}
		h.Length = int64(binary.BigEndian.Uint64(b[2:]))
	}
	if h.Masked {
		copy(h.Mask[:], b[size-4:size])
	}
	return h, size, nil
}

// checkHeader applies RFC 6455 §5 (and RFC 7692 for RSV1) and the message
// size limit before any of the payload is kept.
func (c *Conn) checkHeader(hdr ws.Header) error {
	state := ws.StateServerSide
	if c.msg.op != 0 {
		state = state.Set(ws.StateFragmented)
	}
	if c.deflate {
		// RSV1 marks a compressed message, on its first frame only.
		state = state.Set(ws.StateExtended)
		if hdr.Rsv2() || hdr.Rsv3() || hdr.Rsv1() && (hdr.OpCode.IsControl() || hdr.OpCode == ws.OpContinuation) {
			return ws.ErrProtocolNonZeroRsv
		}
	}
	if err := ws.CheckHeader(hdr, state); err != nil {
		return err
	}
	if !hdr.OpCode.IsControl() && int64(len(c.msg.data))+hdr.Length > c.srv.opts.MaxMessage {
		return errTooBig
	}
	return nil
}

// handleFrame acts on one complete, checked frame.
func (c *Conn) handleFrame(hdr ws.Header, size int, payload []byte) error {
	ws.Cipher(payload, hdr.Mask, 0)
	c.bytesIn.Add(uint64(size + len(payload)))
	switch hdr.OpCode {
	case ws.OpPing:
		// Pongs bypass the send limit; the closing check drops them after
		// a close frame.
		if err := c.queuePong(payload); err != nil && !errors.Is(err, ErrClosed) {
			return err
		}
		return nil
	case ws.OpPong:
		return nil
	case ws.OpClose:
		return c.peerClose(payload)
	case ws.OpText, ws.OpBinary:
		if hdr.Fin {
			// The common case: deliver straight from the read buffer.
			return c.deliver(hdr.OpCode, payload, hdr.Rsv1())
		}
		c.msg = message{op: hdr.OpCode, compressed: hdr.Rsv1(), data: append([]byte(nil), payload...)}
		return nil
	}
	// A continuation frame (CheckHeader saw a message open).
	c.msg.data = append(c.msg.data, payload...)
	if !hdr.Fin {
		return nil
	}
	m := c.msg
	c.msg = message{} // an idle connection keeps no assembly buffer
	return c.deliver(m.op, m.data, m.compressed)
}

// deliver hands a complete message to the application.
func (c *Conn) deliver(op ws.OpCode, data []byte, compressed bool) error {
	if compressed {
		var err error
		if data, err = decompress(data, c.srv.opts.MaxMessage); err != nil {
			return err
		}
	}
	if op == ws.OpText && !utf8.Valid(data) {
		return errInvalidUTF8
	}
	c.msgsIn.Add(1)
	c.srv.msgsIn.Add(1)
	c.mu.Lock()
	closing := c.closeSent
	c.mu.Unlock()
	if closing {
		return nil // RFC 6455 §5.5.1: data after our close frame is dropped
	}
	c.srv.handler.OnMessage(c, Message{Binary: op == ws.OpBinary, Data: data})
	return nil
}

// peerClose answers the client's close frame (RFC 6455 §5.5.1, §7.4).
func (c *Conn) peerClose(payload []byte) error {
	code, reason := ws.StatusNoStatusRcvd, ""
	switch {
	case len(payload) == 1:
		return ws.ErrProtocolControlPayloadOverflow
	case len(payload) >= 2:
		code, reason = ws.ParseCloseFrameData(payload)
		// What a server may send, a client may too (gobwas/ws's
		// CheckCloseFrameData predates 1012-1014 in the IANA registry).
		if !Sendable(code) {
			return ws.ErrProtocolStatusCodeUnknown
		}
		if !utf8.ValidString(reason) {
			return errInvalidUTF8
		}
	}
	c.mu.Lock()
	if !c.closeSent {
		c.setCloseSentLocked(code, reason)
		c.appendLocked(closeFrame(code, reason))
	}
	c.mu.Unlock()
	return errPeerClosed
}

// input keeps the bytes of a partial frame between two reads; it is nil on
// an idle connection.
type input struct{ b []byte }

// minRead is the least room given to one read when a partial frame is kept.
const minRead = 4096

// readOnce reads once with read, into the kept partial frame or else into
// scratch (a buffer the caller owns and reuses), and consumes every complete
// frame. It returns the read error (io.EOF at the end) or consume's.
func (c *Conn) readOnce(read func([]byte) (int, error), scratch []byte) error {
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
		err = c.keep(buf[:n])
	} else {
		in.b = in.b[:len(in.b)+n]
		err = c.keep(in.b)
	}
	if err != nil {
		return err
	}
	return rerr
}

// consumePending handles frames already kept in c.in (the bytes a client
// sent right behind its upgrade request).
func (c *Conn) consumePending() error {
	if len(c.in.b) == 0 {
		return nil
	}
	return c.keep(c.in.b)
}

// keep consumes b, which is c.in.b or a scratch buffer, and keeps what is
// left of a partial frame in c.in with room for the rest of it.
func (c *Conn) keep(b []byte) error {
	used, need, err := c.consume(b)
	if err != nil {
		c.in.b = nil
		return err
	}
	rest := b[used:]
	if len(rest) == 0 {
		c.in.b = nil
		return nil
	}
	room := need // the partial frame's size: room for exactly the rest of it
	if need == 0 {
		room = len(rest) + minRead // a partial header
	}
	if cap(c.in.b) >= room && cap(c.in.b) <= 2*room && len(c.in.b) > 0 && &b[0] == &c.in.b[0] {
		c.in.b = c.in.b[:copy(c.in.b, rest)] // shift within the kept buffer
		return nil
	}
	nb := make([]byte, len(rest), room)
	copy(nb, rest)
	c.in.b = nb
	return nil
}
