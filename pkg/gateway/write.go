package gateway

import (
	"encoding/binary"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// PreparedFrame is a frame encoded once and sent as the same bytes to many
// connections, so a broadcast costs one encoding (and, for connections that
// negotiated permessage-deflate, one compression).
type PreparedFrame struct {
	op   ws.OpCode
	data []byte
	b    []byte

	zOnce sync.Once
	z     []byte
}

// PrepareFrame encodes one unmasked, final frame. data is copied.
func PrepareFrame(op ws.OpCode, data []byte) *PreparedFrame {
	b := compile(op, data)
	return &PreparedFrame{op: op, data: b[len(b)-len(data):], b: b}
}

// bytesFor returns the encoding for c: compressed when c negotiated
// permessage-deflate and the payload is worth it.
func (f *PreparedFrame) bytesFor(c *Conn) []byte {
	if !c.compresses(len(f.data)) {
		return f.b
	}
	f.zOnce.Do(func() { f.z = compileDeflated(f.op, f.data) })
	return f.z
}

// compile encodes header and payload into one buffer, so each frame is one
// write (and several queued frames one writev).
func compile(op ws.OpCode, data []byte) []byte {
	return compileHeader(ws.Header{Fin: true, OpCode: op, Length: int64(len(data))}, data)
}

// compileHeader encodes an unmasked frame with header h and payload data
// into one new buffer: the only allocation of a Send.
func compileHeader(h ws.Header, data []byte) []byte {
	b := make([]byte, ws.HeaderSize(h)+len(data))
	putHeader(b, h)
	copy(b[len(b)-len(data):], data)
	return b
}

// putHeader writes an unmasked frame header at the start of b, which has
// room for it (RFC 6455 §5.2); ws.WriteHeader would allocate.
func putHeader(b []byte, h ws.Header) {
	b[0] = byte(h.OpCode) | h.Rsv<<4
	if h.Fin {
		b[0] |= 0x80
	}
	switch n := h.Length; {
	case n < 126:
		b[1] = byte(n)
	case n <= 0xffff:
		b[1] = 126
		binary.BigEndian.PutUint16(b[2:], uint16(n))
	default:
		b[1] = 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
	}
}

func closeFrame(code ws.StatusCode, reason string) []byte {
	if code == ws.StatusNoStatusRcvd {
		// 1005 must never be sent (RFC 6455 §7.4.1): an empty close frame
		// says the same.
		return compile(ws.OpClose, nil)
	}
	reason = strings.ToValidUTF8(reason, "\uFFFD") // the client fails a close with invalid UTF-8 (§8.1)
	if len(reason) > 123 {
		// A control frame's payload is ≤ 125 bytes (§5.5); cut on a
		// character boundary.
		i := 123
		for i > 0 && !utf8.RuneStart(reason[i]) {
			i--
		}
		reason = reason[:i]
	}
	return compile(ws.OpClose, ws.NewCloseFrameBody(code, reason))
}

// enqueue appends a frame to the connection's queue and gets it written.
//
// The send buffer bounds the backlog: the bytes queued behind the frame
// being written. A data frame is refused (ErrSendBufferFull, and the
// connection closed with 1008) when it would take the backlog past
// Options.SendBuffer, unless the backlog is empty: so one message of any
// size (a 10 MiB echo within MaxMessage) goes out to a client that reads,
// and a connection holds at most the frame being written, one frame
// behind it and SendBuffer (issue 10).
//
// Control frames (a pong, the pinger's ping) are never refused but count
// in the queue: a client that stops reading is closed by the data frames'
// check or by WriteTimeout; pongs fold (see queuePong).
func (c *Conn) enqueue(b []byte, control bool) error {
	c.mu.Lock()
	if c.closingLocked() && c.state != connHanded { // a hand-off's snapshot takes what is queued meanwhile
		c.mu.Unlock()
		return ErrClosed
	}
	if backlog := c.queuedLocked() - c.headLocked(); !control && backlog > 0 && backlog+len(b) > c.srv.opts.SendBuffer {
		queued := c.queuedLocked() // read under the lock: the writer changes it
		c.mu.Unlock()
		c.srv.sendFailures.Add(1)
		c.srv.k.bufCloses.Add(1)
		c.srv.log.Info("closing slow client", "conn", c.id, "queued", queued, "backlog", backlog,
			"frame", len(b), "limit", c.srv.opts.SendBuffer)
		c.fail(ErrSendBufferFull)
		return ErrSendBufferFull
	}
	c.appendLocked(b)
	c.mu.Unlock()
	if !control {
		c.msgsOut.Add(1)
		c.srv.msgsOut.Add(1)
	}
	return nil
}

// queuePong answers a ping with payload (frame.go). Once pongFoldAt bytes
// wait, a pong replaces a pong still unwritten at the end of the queue:
// only the latest ping needs an answer (RFC 6455 §5.5.3), so a client that
// floods pings and does not read holds one pong more, not one per ping (it
// took a worker from 10 to 823 MiB in 10 s, issue 10). Below that every
// ping is answered, as conformance suites expect of a client that reads.
// The replacing pong reuses the buffer of the one it replaces when it
// fits: a client flooding pings costs no allocation per ping.
func (c *Conn) queuePong(payload []byte) error {
	c.mu.Lock()
	if c.pongLast && !c.closingLocked() && c.queuedLocked() >= min(pongFoldAt, c.srv.opts.SendBuffer) {
		w := c.out // pongLast: a frame is queued
		last := len(w.frames) - 1
		old := w.frames[last]
		b := compilePongInto(old, payload)
		w.queued += len(b) - len(old)
		w.frames[last] = b // in w.first when it is the only frame
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	return c.enqueue(compile(ws.OpPong, payload), true)
}

// compilePongInto encodes a pong with payload in buf when it has room (a
// control frame's header is 2 bytes), else in a new buffer.
func compilePongInto(buf, payload []byte) []byte {
	if cap(buf) < 2+len(payload) {
		return compile(ws.OpPong, payload)
	}
	b := buf[:2+len(payload)]
	putHeader(b, ws.Header{Fin: true, OpCode: ws.OpPong, Length: int64(len(payload))})
	copy(b[2:], payload)
	return b
}

// pongFoldAt is how much must be queued before pongs replace each other:
// the poller flushes what its callbacks queue at holdFlushMax, so below it
// the pongs of one read of a client that reads all go out.
const pongFoldAt = holdFlushMax

// isPong reports whether the encoded frame b is a pong.
func isPong(b []byte) bool { return ws.OpCode(b[0]&0x0f) == ws.OpPong }

// headLocked is what is left to write of the frame being written: the
// batch a writer goroutine holds, else the first queued frame. c.mu is
// held.
func (c *Conn) headLocked() int {
	if n := c.tr.inflightLocked(c); n > 0 {
		return n
	}
	if c.hasFramesLocked() {
		return len(c.out.frames[0])
	}
	return 0
}

// appendLocked queues b and has the engine write it. c.mu is held.
func (c *Conn) appendLocked(b []byte) {
	if c.out == nil {
		c.out = c.srv.outputs.get()
	}
	w := c.out
	if len(w.frames) == 0 {
		// Most queues hold one frame at a time: keep it in the write state
		// rather than allocate a slice for it. Capacity 1: a second frame
		// moves the queue to the heap and never overwrites this one.
		w.first[0] = b
		w.frames = w.first[:1:1]
	} else {
		w.frames = append(w.frames, b)
		// The queue is on the heap now (a full cap-1 slice always moves):
		// let go of the state's copy of its first frame.
		w.first[0] = nil
	}
	w.queued += len(b)
	c.pongLast = isPong(b) // until a byte of it is written
	c.tr.writeLocked(c)
}

// pauseReadAt is how much may be queued for a connection before it is no
// longer read, resumeReadAt how little before it is read again (the poller
// takes EPOLLIN off, the goroutine engine's reader waits). A client that
// sends requests and does not read the replies would otherwise make the
// server queue them until the send buffer overflows, or without bound for
// pongs (issue 10); its requests wait in the kernel's socket buffer
// instead, and TCP's flow control slows it down. Half the send buffer
// leaves the other half for what one read's messages may queue before the
// pause takes effect, so a client that reads is not closed for them;
// resuming at a quarter keeps a client reading at the edge from flipping
// the registration for every frame.
func (o *Options) pauseReadAt() int  { return o.SendBuffer / 2 }
func (o *Options) resumeReadAt() int { return o.SendBuffer / 4 }

// holdFlushMax bounds what a poller's callbacks queue before it flushes:
// past it they write at once, so that replies to one read cannot pile up
// to Options.SendBuffer on a client that reads them.
const holdFlushMax = 64 << 10
