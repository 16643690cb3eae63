package gateway

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// The frame core: both engines (the epoll pollers for plain TCP, the
// goroutine per TLS connection) read bytes into a buffer and hand them to
// consume, which acts on every frame in it and says how much it used. A data
// frame is taken as its bytes arrive (see assemble.go): what a connection
// keeps between reads is what it was sent, never what a header announced.
// Only a partial header or control frame is kept as bytes (see input).

var (
	errTooBig      = errors.New("gateway: message too big")
	errInvalidUTF8 = errors.New("gateway: invalid UTF-8")
	// errPeerClosed ends reading after the client's close frame.
	errPeerClosed = errors.New("gateway: peer closed")
)

// consume handles the frames at the start of b and returns how many bytes
// it used: all of them, but for a partial header or control frame at the
// end, or the rest of b when a compressed message's inflating ran out of
// this round's budget (see inflate.go). Payloads are unmasked in place: b
// must not be consumed twice. err ends the connection: errPeerClosed after
// the client's close frame, a ws.ProtocolError, errTooBig or errInvalidUTF8
// to fail it.
func (c *Conn) consume(b []byte, budget *int) (used int, err error) {
	for used < len(b) {
		if c.rd.busy() {
			return used, nil // inflating: the rest waits for the next round
		}
		if c.rd.inFrame() {
			n, err := c.payload(b[used:], budget)
			used += n
			if err != nil {
				return used, err
			}
			continue
		}
		hdr, size, err := parseHeader(b[used:])
		if err != nil {
			return used, err
		}
		if size == 0 {
			return used, nil // the header is incomplete
		}
		if err := c.checkHeader(hdr); err != nil {
			return used, err
		}
		total := size + int(hdr.Length) // bounded: checkHeader checked the length
		if hdr.OpCode.IsControl() {
			if len(b)-used < total {
				return used, nil // at most 14+125 bytes to keep
			}
			payload := b[used+size : used+total]
			used += total
			ws.Cipher(payload, hdr.Mask, 0)
			c.bytesIn.Add(uint64(total))
			if err := c.control(hdr.OpCode, payload); err != nil {
				return used, err
			}
			continue
		}
		if hdr.Fin && c.rd == nil && len(b)-used >= total {
			// The common case: a whole message in the buffer, delivered
			// from it without a copy.
			payload := b[used+size : used+total]
			used += total
			ws.Cipher(payload, hdr.Mask, 0)
			c.bytesIn.Add(uint64(total))
			if err := c.whole(hdr.OpCode, payload, hdr.Rsv1(), budget); err != nil {
				return used, err
			}
			continue
		}
		used += size
		c.bytesIn.Add(uint64(size))
		if err := c.startFrame(hdr, budget); err != nil {
			return used, err
		}
	}
	return used, nil
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
	if c.rd.open() {
		state = state.Set(ws.StateFragmented)
	}
	if c.deflate != 0 {
		// RSV1 marks a compressed message, on its first frame only.
		state = state.Set(ws.StateExtended)
		if hdr.Rsv2() || hdr.Rsv3() || hdr.Rsv1() && (hdr.OpCode.IsControl() || hdr.OpCode == ws.OpContinuation) {
			return ws.ErrProtocolNonZeroRsv
		}
	}
	if err := ws.CheckHeader(hdr, state); err != nil {
		return err
	}
	// Subtracted, not added: a length near 2^63 plus the message so far
	// would overflow and pass.
	if !hdr.OpCode.IsControl() && hdr.Length > c.srv.opts.MaxMessage-int64(c.rd.size()) {
		return errTooBig
	}
	return nil
}

// control acts on one complete control frame, unmasked.
func (c *Conn) control(op ws.OpCode, payload []byte) error {
	switch op {
	case ws.OpPing:
		// Pongs bypass the send limit; the closing check drops them after
		// a close frame.
		if err := c.queuePong(payload); err != nil && !errors.Is(err, ErrClosed) {
			return err
		}
		return nil
	case ws.OpClose:
		return c.peerClose(payload)
	}
	return nil // a pong
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
	c.queueCloseLocked(code, reason) // the echo, unless ours is queued
	c.mu.Unlock()
	return errPeerClosed
}
