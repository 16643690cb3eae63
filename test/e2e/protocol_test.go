package e2e

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

// protoMaxMessage is the -max-message of the protocol test's cluster.
const protoMaxMessage = 4096

// protoCase is one RFC 6455 edge case: frames a client sends, what the
// server must answer, and how the connection must end.
type protoCase struct {
	name     string
	frames   []ws.Frame // sent in order, one write each
	unmasked bool       // send the frames unmasked (a client must mask, §5.3)
	want     []wsEvent  // expected events in order: kind, op and data count
	// closeCodes, when set, are the close codes the server may answer with
	// (then the TCP connection must end); when empty, the connection must
	// stay open and keep answering.
	closeCodes []ws.StatusCode
}

// frame builds a frame; fin=false starts or continues a fragmented message.
func frame(op ws.OpCode, fin bool, p []byte) ws.Frame { return ws.NewFrame(op, fin, p) }

// withRsv sets the reserved bits of f.
func withRsv(f ws.Frame, r1, r2, r3 bool) ws.Frame {
	f.Header.Rsv = ws.Rsv(r1, r2, r3)
	return f
}

// closeBody is a close payload with code and reason.
func closeBody(code ws.StatusCode, reason string) []byte { return ws.NewCloseFrameBody(code, reason) }

// message is an expected data message.
func message(op ws.OpCode, s string) wsEvent {
	return wsEvent{kind: evMessage, op: op, data: []byte(s)}
}

var (
	protocolError = []ws.StatusCode{ws.StatusProtocolError}
	invalidData   = []ws.StatusCode{ws.StatusInvalidFramePayloadData}
	tooBig        = []ws.StatusCode{ws.StatusMessageTooBig}
	text          = ws.OpText
	binary        = ws.OpBinary
	cont          = ws.OpContinuation
	ni            = []byte("你好")
)

// protocolCases is RFC 6455 §5–7 as a client can break it, after the
// Autobahn suite's sections 1–7.
var protocolCases = []protoCase{
	{
		name:   "text is echoed",
		frames: []ws.Frame{frame(text, true, []byte("hi"))},
		want:   []wsEvent{message(text, "hello hi")},
	},
	{
		name:   "binary is echoed as binary",
		frames: []ws.Frame{frame(binary, true, []byte{0, 0xff})},
		want:   []wsEvent{message(binary, "hello \x00\xff")},
	},
	{
		name:   "empty text",
		frames: []ws.Frame{frame(text, true, nil)},
		want:   []wsEvent{message(text, "hello ")},
	},
	{
		name:       "unmasked frame",
		unmasked:   true,
		frames:     []ws.Frame{frame(text, true, []byte("hi"))},
		closeCodes: protocolError,
	},
	{
		name:       "reserved data opcode 0x3",
		frames:     []ws.Frame{frame(ws.OpCode(0x3), true, []byte("x"))},
		closeCodes: protocolError,
	},
	{
		name:       "reserved control opcode 0xB",
		frames:     []ws.Frame{frame(ws.OpCode(0xB), true, nil)},
		closeCodes: protocolError,
	},
	{
		name:       "RSV1 without an extension",
		frames:     []ws.Frame{withRsv(frame(text, true, []byte("x")), true, false, false)},
		closeCodes: protocolError,
	},
	{
		name:       "RSV2",
		frames:     []ws.Frame{withRsv(frame(text, true, []byte("x")), false, true, false)},
		closeCodes: protocolError,
	},
	{
		name:       "RSV3 on a ping",
		frames:     []ws.Frame{withRsv(ws.NewPingFrame(nil), false, false, true)},
		closeCodes: protocolError,
	},
	{
		name:       "fragmented ping",
		frames:     []ws.Frame{frame(ws.OpPing, false, []byte("a")), frame(cont, true, []byte("b"))},
		closeCodes: protocolError,
	},
	{
		name:       "continuation without a start",
		frames:     []ws.Frame{frame(cont, true, []byte("x"))},
		closeCodes: protocolError,
	},
	{
		name:       "new message inside a fragmented one",
		frames:     []ws.Frame{frame(text, false, []byte("a")), frame(text, true, []byte("b"))},
		closeCodes: protocolError,
	},
	{
		name:   "ping inside a fragmented message",
		frames: []ws.Frame{frame(text, false, []byte("hel")), ws.NewPingFrame([]byte("p")), frame(cont, true, []byte("lo"))},
		want:   []wsEvent{{kind: evPong, data: []byte("p")}, message(text, "hello hello")},
	},
	{
		name:   "three fragments",
		frames: []ws.Frame{frame(binary, false, []byte("a")), frame(cont, false, []byte("b")), frame(cont, true, []byte("c"))},
		want:   []wsEvent{message(binary, "hello abc")},
	},
	{
		name:       "invalid UTF-8",
		frames:     []ws.Frame{frame(text, true, []byte{'a', 0xff, 0xfe})},
		closeCodes: invalidData,
	},
	{
		name:       "UTF-16 surrogate",
		frames:     []ws.Frame{frame(text, true, []byte{0xed, 0xa0, 0x80})},
		closeCodes: invalidData,
	},
	{
		name:       "truncated UTF-8 at the end of a message",
		frames:     []ws.Frame{frame(text, false, []byte("ok")), frame(cont, true, ni[:1])},
		closeCodes: invalidData,
	},
	{
		name:   "UTF-8 split across fragments",
		frames: []ws.Frame{frame(text, false, ni[:1]), frame(cont, false, ni[1:4]), frame(cont, true, ni[4:])},
		want:   []wsEvent{message(text, "hello 你好")},
	},
	{
		name:   "message of exactly -max-message",
		frames: []ws.Frame{frame(binary, true, bytes.Repeat([]byte("a"), protoMaxMessage))},
		want:   []wsEvent{message(binary, "hello "+string(bytes.Repeat([]byte("a"), protoMaxMessage)))},
	},
	{
		name:       "message over -max-message",
		frames:     []ws.Frame{frame(binary, true, make([]byte, protoMaxMessage+1))},
		closeCodes: tooBig,
	},
	{
		name:       "fragments over -max-message",
		frames:     []ws.Frame{frame(binary, false, make([]byte, 3000)), frame(cont, true, make([]byte, 3000))},
		closeCodes: tooBig,
	},
	{
		// The announced length plus the message so far overflows int64:
		// refused, not taken as a frame that never ends.
		name:       "continuation announcing 2^63-1 bytes",
		frames:     []ws.Frame{frame(binary, false, []byte("x")), {Header: ws.Header{Fin: true, OpCode: cont, Length: 1<<63 - 1}}},
		closeCodes: tooBig,
	},
	{
		name:   "ping",
		frames: []ws.Frame{ws.NewPingFrame([]byte("abc"))},
		want:   []wsEvent{{kind: evPong, data: []byte("abc")}},
	},
	{
		name:   "ping of 125 bytes",
		frames: []ws.Frame{ws.NewPingFrame(bytes.Repeat([]byte("p"), 125))},
		want:   []wsEvent{{kind: evPong, data: bytes.Repeat([]byte("p"), 125)}},
	},
	{
		name:       "ping of 126 bytes",
		frames:     []ws.Frame{ws.NewPingFrame(bytes.Repeat([]byte("p"), 126))},
		closeCodes: protocolError,
	},
	{
		name:   "unsolicited pong is ignored",
		frames: []ws.Frame{ws.NewPongFrame([]byte("x"))},
	},
	{
		name:       "close 1000 is echoed",
		frames:     []ws.Frame{ws.NewCloseFrame(closeBody(1000, "bye"))},
		closeCodes: []ws.StatusCode{1000},
	},
	{
		name:       "close 1001 is echoed",
		frames:     []ws.Frame{ws.NewCloseFrame(closeBody(1001, ""))},
		closeCodes: []ws.StatusCode{1001},
	},
	{
		name:       "close 4000 is echoed",
		frames:     []ws.Frame{ws.NewCloseFrame(closeBody(4000, "app"))},
		closeCodes: []ws.StatusCode{4000},
	},
	{
		name:       "close without a code",
		frames:     []ws.Frame{ws.NewCloseFrame(nil)},
		closeCodes: []ws.StatusCode{0, 1000},
	},
	{
		name:       "close with a one-byte payload",
		frames:     []ws.Frame{ws.NewCloseFrame([]byte{0x03})},
		closeCodes: protocolError,
	},
	{
		name:       "close code 1005 on the wire",
		frames:     []ws.Frame{ws.NewCloseFrame(closeBody(1005, ""))},
		closeCodes: protocolError,
	},
	{
		name:       "close code 999",
		frames:     []ws.Frame{ws.NewCloseFrame(closeBody(999, ""))},
		closeCodes: protocolError,
	},
	{
		name:       "close code 1012 (IANA registry) is echoed",
		frames:     []ws.Frame{ws.NewCloseFrame(closeBody(1012, "restart"))},
		closeCodes: []ws.StatusCode{1012},
	},
	{
		name:       "close code 1016",
		frames:     []ws.Frame{ws.NewCloseFrame(closeBody(1016, ""))},
		closeCodes: protocolError,
	},
	{
		name:       "close code 4999 is echoed",
		frames:     []ws.Frame{ws.NewCloseFrame(closeBody(4999, ""))},
		closeCodes: []ws.StatusCode{4999},
	},
	{
		name:       "close reason not UTF-8",
		frames:     []ws.Frame{ws.NewCloseFrame(append(closeBody(1000, ""), 0xff))},
		closeCodes: []ws.StatusCode{ws.StatusProtocolError, ws.StatusInvalidFramePayloadData},
	},
}

// TestProtocol replays protocolCases, each on its own connection, against a
// real worker.
func TestProtocol(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 1, maxMessage: "4KiB"})
	for _, tc := range protocolCases {
		t.Run(tc.name, func(t *testing.T) {
			cl := c.dial()
			if err := cl.writeFrames(tc.frames, !tc.unmasked); err != nil {
				t.Fatalf("write frames: %v", err)
			}
			for _, want := range tc.want {
				got, err := cl.nextEvent(expectTimeout)
				if err != nil {
					t.Fatalf("waiting for %s: %v", want, err)
				}
				if got.kind != want.kind || got.op != want.op || !bytes.Equal(got.data, want.data) {
					t.Fatalf("got %s, want %s", got, want)
				}
			}
			if len(tc.closeCodes) == 0 {
				if err := cl.roundTrip("probe"); err != nil {
					t.Fatalf("connection not usable afterwards: %v", err)
				}
				return
			}
			cl.expectClose(expectTimeout, tc.closeCodes...)
			if _, err := cl.waitEOF(expectTimeout); err != nil {
				t.Fatalf("server kept the TCP connection after its close frame: %v", err)
			}
		})
	}
	// The worker survived all of it.
	if err := c.dial().roundTrip("after"); err != nil {
		t.Error(err)
	}
}

// failFastCase is a text message whose UTF-8 turns invalid part way, sent
// in parts (each its own write): the server must fail it with 1007 once it
// has the parts up to failAfter, before the client sends the rest (RFC
// 6455 §8.1; Autobahn 6.4.1-6.4.4).
type failFastCase struct {
	name      string
	parts     [][]byte
	failAfter int
}

// maskedFrame is f masked and encoded.
func maskedFrame(op ws.OpCode, fin bool, p string) []byte {
	b, err := ws.CompileFrame(ws.MaskFrame(ws.NewFrame(op, fin, []byte(p))))
	if err != nil {
		panic(err) // a frame built here always compiles
	}
	return b
}

// cut splits one encoded frame at the given payload offsets (after its
// header): partial frames.
func cut(frame []byte, payloadLen int, at ...int) [][]byte {
	hdr := len(frame) - payloadLen
	var parts [][]byte
	prev := 0
	for _, a := range at {
		parts = append(parts, frame[prev:hdr+a])
		prev = hdr + a
	}
	return append(parts, frame[prev:])
}

const kosme = "κόσμε" // Autobahn's valid text, 11 bytes

var failFastCases = func() []failFastCase {
	whole := kosme + "\xf4\x90\x80\x80" + "edited"
	frame := maskedFrame(text, true, whole)
	return []failFastCase{
		{ // 6.4.1: the invalid character is a fragment of its own
			name:      "6.4.1 invalid fragment",
			parts:     [][]byte{maskedFrame(text, false, kosme), maskedFrame(cont, false, "\xf4\x90\x80\x80"), maskedFrame(cont, true, "edited")},
			failAfter: 1,
		},
		{ // 6.4.2: the invalid character spans two fragments
			name:      "6.4.2 invalid across fragments",
			parts:     [][]byte{maskedFrame(text, false, kosme+"\xf4"), maskedFrame(cont, false, "\x90"), maskedFrame(cont, true, "\x80\x80edited")},
			failAfter: 1,
		},
		{ // 6.4.3: one frame in three partial writes
			name:      "6.4.3 invalid in a partial frame",
			parts:     cut(frame, len(whole), len(kosme), len(kosme)+4),
			failAfter: 1,
		},
		{ // 6.4.4: one frame cut inside the invalid character
			name:      "6.4.4 invalid across partial frames",
			parts:     cut(frame, len(whole), len(kosme), len(kosme)+1, len(kosme)+2),
			failAfter: 2,
		},
	}
}()

// TestProtocolFailFast replays failFastCases against a real worker: the
// 1007 arrives before the message's remaining parts are sent.
func TestProtocolFailFast(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 1})
	for _, tc := range failFastCases {
		t.Run(tc.name, func(t *testing.T) {
			cl := c.dial()
			for _, p := range tc.parts[:tc.failAfter] {
				if err := cl.writeRaw(p); err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.writeRaw(tc.parts[tc.failAfter]); err != nil {
				t.Fatal(err)
			}
			cl.expectClose(expectTimeout, ws.StatusInvalidFramePayloadData)
			for _, p := range tc.parts[tc.failAfter+1:] {
				_ = cl.writeRaw(p) // the server may have closed already
			}
			if _, err := cl.waitEOF(expectTimeout); err != nil {
				t.Fatalf("server kept the TCP connection after its close frame: %v", err)
			}
		})
	}
}
