package gateway

import (
	"bufio"
	"errors"
	"io"
	"net"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

var (
	errTooBig      = errors.New("gateway: message too big")
	errInvalidUTF8 = errors.New("gateway: invalid UTF-8")
	// errPeerClosed ends the read loop after the client's close frame.
	errPeerClosed = errors.New("gateway: peer closed")
)

// readBufferSize is the per-connection read buffer: enough for a header and
// a small message in one read.
const readBufferSize = 1024

// message is the assembly state of one possibly fragmented message.
type message struct {
	op         ws.OpCode // OpText or OpBinary; 0 when no message is open
	compressed bool      // RSV1 was set on its first frame (RFC 7692 §6.1)
	data       []byte
}

// readLoop reads frames until the connection ends and returns the close code
// and reason to report to OnClose. It runs on the connection's own goroutine.
func (c *Conn) readLoop(br *bufio.Reader, h Handler) (ws.StatusCode, string) {
	var msg message
	var ctl [ws.MaxControlFramePayloadSize]byte
	for {
		c.extendIdle()
		err := c.readFrame(br, h, &msg, ctl[:0])
		if err == nil {
			continue
		}
		return c.endRead(err)
	}
}

// extendIdle moves the read deadline forward unless a close is under way
// (then the deadline bounds the wait for the client's close frame).
func (c *Conn) extendIdle() {
	if c.srv.opts.IdleTimeout < 0 {
		return
	}
	c.mu.Lock()
	closing := c.closeSent
	c.mu.Unlock()
	if !closing {
		c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.IdleTimeout))
	}
}

// endRead finishes the connection after the read loop stopped with err and
// returns the code to report.
func (c *Conn) endRead(err error) (ws.StatusCode, string) {
	c.mu.Lock()
	sent, code, why := c.closeSent, c.closeCode, c.closeWhy
	c.mu.Unlock()
	switch {
	case errors.Is(err, errPeerClosed):
		// The handshake is complete: our echo (or our own earlier close
		// frame) is queued; close TCP once it is written (RFC 6455 §7.1.1:
		// the server closes first).
		c.mu.Lock()
		c.closeAfterFlushLocked(false)
		c.mu.Unlock()
		select {
		case <-c.tcpGone:
		case <-time.After(c.srv.opts.CloseTimeout):
			c.closeTCP()
		}
		return code, why
	case sent:
		// We closed first; the client never answered, or answered and then
		// dropped TCP. Report our code.
	case isTimeout(err):
		// Nothing read for IdleTimeout, not even a pong.
		code, why = ws.StatusGoingAway, "idle timeout"
		c.startClose(code, why, true)
	case isNetErr(err):
		// The client vanished without a close frame.
		c.closeTCP()
		return ws.StatusAbnormalClosure, ""
	default:
		code, why = closeFor(err)
		c.srv.log.Debug("failing connection", "conn", c.id, "code", code, "err", err)
		c.startClose(code, why, true)
	}
	c.mu.Lock()
	c.closeAfterFlushLocked(true)
	c.mu.Unlock()
	c.drain()
	return code, why
}

// drain discards what the client still sends until it closes its side, for
// at most CloseTimeout and a bounded number of bytes, then closes TCP.
func (c *Conn) drain() {
	c.nc.SetReadDeadline(time.Now().Add(c.srv.opts.CloseTimeout))
	io.Copy(io.Discard, io.LimitReader(c.nc, drainLimit))
	c.closeTCP()
}

// drainLimit bounds what drain reads from a client that keeps sending.
const drainLimit = 1 << 20

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isNetErr(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) ||
		errors.Is(err, errNetClosed)
}

// readFrame reads and handles one frame.
func (c *Conn) readFrame(br *bufio.Reader, h Handler, msg *message, ctl []byte) error {
	hdr, err := ws.ReadHeader(br)
	if err != nil {
		return wrapRead(err)
	}
	state := ws.StateServerSide
	if msg.op != 0 {
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
	if !hdr.OpCode.IsControl() && int64(len(msg.data))+hdr.Length > c.srv.opts.MaxMessage {
		return errTooBig
	}
	var payload []byte
	if hdr.OpCode.IsControl() {
		payload = ctl[:hdr.Length]
	} else {
		n := len(msg.data)
		msg.data = grow(msg.data, int(hdr.Length))
		payload = msg.data[n:]
	}
	if _, err := io.ReadFull(br, payload); err != nil {
		return wrapRead(err)
	}
	ws.Cipher(payload, hdr.Mask, 0)
	c.bytesIn.Add(uint64(ws.HeaderSize(hdr)) + uint64(hdr.Length))

	switch hdr.OpCode {
	case ws.OpPing:
		// Pongs bypass the send limit; the closing check drops them after
		// a close frame.
		if err := c.enqueue(compile(ws.OpPong, payload), true); err != nil && !errors.Is(err, ErrClosed) {
			return err
		}
		return nil
	case ws.OpPong:
		return nil
	case ws.OpClose:
		return c.peerClose(payload)
	case ws.OpText, ws.OpBinary:
		msg.op = hdr.OpCode
		msg.compressed = hdr.Rsv1()
	}
	if !hdr.Fin {
		return nil
	}
	return c.deliver(h, msg)
}

// deliver hands a complete message to the application and resets msg.
func (c *Conn) deliver(h Handler, msg *message) error {
	op, data, compressed := msg.op, msg.data, msg.compressed
	msg.op, msg.compressed = 0, false
	if cap(msg.data) > 4*readBufferSize {
		msg.data = nil // do not pin a large buffer on an idle connection
	} else {
		msg.data = msg.data[:0]
	}
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
	h.OnMessage(c, Message{Binary: op == ws.OpBinary, Data: data})
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
		if err := ws.CheckCloseFrameData(code, reason); err != nil {
			return err
		}
	}
	c.mu.Lock()
	if !c.closeSent {
		c.closeSent = true
		c.closeCode, c.closeWhy = code, reason
		c.appendLocked(closeFrame(code, reason))
	}
	c.mu.Unlock()
	return errPeerClosed
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b[:len(b)+n]
	}
	nb := make([]byte, len(b)+n, max(2*cap(b), len(b)+n))
	copy(nb, b)
	return nb
}
