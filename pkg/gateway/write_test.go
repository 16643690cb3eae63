package gateway

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// TestCompileMatchesGobwas: our header encoder against gobwas/ws's, at
// every length boundary and with RSV1.
func TestCompileMatchesGobwas(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 70000} {
		for _, rsv := range []byte{0, ws.Rsv(true, false, false)} {
			data := bytes.Repeat([]byte{'z'}, n)
			h := ws.Header{Fin: true, OpCode: ws.OpBinary, Rsv: rsv, Length: int64(n)}
			var want bytes.Buffer
			ws.WriteFrame(&want, ws.Frame{Header: h, Payload: data})
			if got := compileHeader(h, data); !bytes.Equal(got, want.Bytes()) {
				t.Fatalf("length %d rsv %d: header % x, want % x", n, rsv, got[:10], want.Bytes()[:10])
			}
		}
	}
	if got := compile(ws.OpClose, nil); !bytes.Equal(got, []byte{0x88, 0}) {
		t.Fatalf("empty close: % x", got)
	}
}
