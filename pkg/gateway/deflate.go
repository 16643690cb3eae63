package gateway

import (
	"bytes"
	"compress/flate"
	"sync"

	"github.com/gobwas/ws"
)

// permessage-deflate (RFC 7692), negotiated with no context takeover in
// both directions: every message is compressed on its own, so a connection
// keeps no compressor state between messages (no 32 KiB window per idle
// connection), and a broadcast is compressed once for every connection.
// Negotiation is in negotiate.go, inflating in inflate.go.

// deflateMin is the smallest payload worth compressing; shorter messages go
// out uncompressed (RSV1 clear), which RFC 7692 §6 allows.
const deflateMin = 128

// deflateTail ends every compressed message; it is stripped when sending
// and put back when receiving (RFC 7692 §7.2.1, §7.2.2).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed) // a valid level cannot fail
	return w
}}

// wbits is a connection's permessage-deflate state: 0 when it was not
// negotiated, else the window the client lets the server use, in bits
// (server_max_window_bits, RFC 7692 §7.1.2.1; 15 when the client set no
// limit). One byte, so that Conn stays in its size class.
type wbits uint8

// fullWindow is compress/flate's window: 32 KiB.
const fullWindow wbits = 15

// compresses reports whether a message of n bytes goes to c compressed: c
// negotiated permessage-deflate, the message is worth it, and it fits the
// window the client allowed. compress/flate cannot limit its window, but a
// message compressed on its own refers back at most its own length: one no
// longer than the window needs no smaller one. A longer message goes out
// uncompressed, which RSV1 being per message always allows (§6).
func (c *Conn) compresses(n int) bool {
	return c.deflate != 0 && n >= deflateMin && (c.deflate == fullWindow || n <= 1<<c.deflate)
}

// compress deflates p as one message payload.
func compress(p []byte) []byte {
	var buf bytes.Buffer
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&buf)
	w.Write(p) // writes to a bytes.Buffer cannot fail
	w.Flush()
	flateWriters.Put(w)
	return bytes.TrimSuffix(buf.Bytes(), deflateTail)
}

// compileDeflated encodes a compressed final frame with RSV1 set.
func compileDeflated(op ws.OpCode, data []byte) []byte {
	z := compress(data)
	return compileHeader(ws.Header{Fin: true, OpCode: op, Rsv: ws.Rsv(true, false, false), Length: int64(len(z))}, z)
}
