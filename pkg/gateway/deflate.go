package gateway

import (
	"bytes"
	"compress/flate"
	"io"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

// permessage-deflate (RFC 7692), negotiated with no context takeover in
// both directions: every message is compressed on its own, so a connection
// keeps no compressor state between messages (no 32 KiB window per idle
// connection), and a broadcast is compressed once for every connection.

// deflateMin is the smallest payload worth compressing; shorter messages go
// out uncompressed (RSV1 clear), which RFC 7692 §6 allows.
const deflateMin = 128

// deflateTail ends every compressed message; it is stripped when sending
// and put back when receiving (RFC 7692 §7.2.1, §7.2.2).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

var (
	flateWriters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(nil, flate.BestSpeed) // a valid level cannot fail
		return w
	}}
	flateReaders = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
)

// newDeflateExtension returns the negotiation state for one handshake.
func newDeflateExtension() *wsflate.Extension {
	return &wsflate.Extension{Parameters: wsflate.Parameters{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: true,
	}}
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

// decompress inflates one message payload, failing with errTooBig past max
// bytes (a compressed message may not grow past Options.MaxMessage).
func decompress(p []byte, max int64) ([]byte, error) {
	r := flateReaders.Get().(io.ReadCloser)
	defer flateReaders.Put(r)
	r.(flate.Resetter).Reset(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail)), nil)
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(r, max+1))
	if n > max {
		return nil, errTooBig
	}
	if err != nil && err != io.ErrUnexpectedEOF {
		return nil, ws.ProtocolError("bad compressed data: " + err.Error())
	}
	return out.Bytes(), nil
}

// compileDeflated encodes a compressed final frame with RSV1 set.
func compileDeflated(op ws.OpCode, data []byte) []byte {
	z := compress(data)
	return compileHeader(ws.Header{Fin: true, OpCode: op, Rsv: ws.Rsv(true, false, false), Length: int64(len(z))}, z)
}
