package gateway

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestCloseFrameReason: whatever reason an application or a backend gives,
// the close frame is one a client accepts: at most 125 bytes of payload,
// the reason cut on a character boundary, valid UTF-8 (RFC 6455 §5.5,
// §7.1.6, §8.1).
func TestCloseFrameReason(t *testing.T) {
	for _, c := range []struct{ name, reason, want string }{
		{"short", "bye", "bye"},
		{"exactly 123", strings.Repeat("a", 123), strings.Repeat("a", 123)},
		{"long ASCII", strings.Repeat("a", 200), strings.Repeat("a", 123)},
		// 41 three-byte characters are 123 bytes; the 42nd does not fit.
		{"long CJK", strings.Repeat("你", 50), strings.Repeat("你", 41)},
		{"cut inside a character", "a" + strings.Repeat("你", 50), "a" + strings.Repeat("你", 40)},
		{"invalid UTF-8", "bad \xff\xfe end", "bad \uFFFD end"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f, err := ws.ReadFrame(bytes.NewReader(closeFrame(4000, c.reason)))
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Payload) > 125 {
				t.Fatalf("payload of %d bytes", len(f.Payload))
			}
			code, reason := ws.ParseCloseFrameData(f.Payload)
			if err := ws.CheckCloseFrameData(code, reason); err != nil {
				t.Fatalf("a client would reject it: %v", err)
			}
			if code != 4000 || reason != c.want || !utf8.ValidString(reason) {
				t.Fatalf("close %d %q, want 4000 %q", code, reason, c.want)
			}
		})
	}
}

// TestCloseWithUnsendableCode: Close with a code that may not be sent (an
// application's or a backend's mistake) sends 1011 over the wire, and 1005
// an empty close frame; a valid code goes out as given.
func TestCloseWithUnsendableCode(t *testing.T) {
	o := &opener{conns: make(chan *Conn, 1)}
	_, url := startServer(t, Options{PingInterval: -1}, o)
	for _, c := range []struct {
		code, want ws.StatusCode
	}{
		{4000, 4000},
		{1000, 1000},
		{1012, 1012},
		{1004, 1011},
		{1006, 1011},
		{1015, 1011},
		{999, 1011},
		{2000, 1011},
		{5000, 1011},
		{1005, 1005}, // empty close frame: the client reads "no status"
	} {
		cl := dial(t, url)
		sc := <-o.conns
		sc.Close(c.code, "why")
		f, err := ws.ReadFrame(cl)
		if err != nil {
			t.Fatalf("Close(%d): %v", c.code, err)
		}
		if f.Header.OpCode != ws.OpClose {
			t.Fatalf("Close(%d): got opcode %d", c.code, f.Header.OpCode)
		}
		code, reason := ws.StatusNoStatusRcvd, ""
		if len(f.Payload) > 0 {
			code, reason = ws.ParseCloseFrameData(f.Payload)
			// (gobwas/ws's CheckCloseFrameData predates 1012-1014.)
			if !Sendable(code) || !utf8.ValidString(reason) {
				t.Fatalf("Close(%d): a client would reject close %d %q", c.code, code, reason)
			}
		}
		if code != c.want {
			t.Errorf("Close(%d) sent %d, want %d", c.code, code, c.want)
		}
		wsutil.WriteClientMessage(cl, ws.OpClose, nil)
		cl.Close()
	}
}
