package e2e

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// The permessage-deflate side of the protocol table (RFC 7692), after the
// Autobahn suite's section 13 (offers with window bits) and sections 9/12
// (large and compressed messages), against a worker started with -deflate.

// deflateOfferCases are offers and the answer the worker must give; every
// accepted offer is then used for a compressed round trip.
var deflateOfferCases = []struct {
	name, offer, answer string
	window              int // the server_max_window_bits answered; 0: none
}{
	{"13.1 default", "permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover", 0},
	{"13.2 client_max_window_bits without a value", "permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover", 0},
	{"13.3 server_max_window_bits=8", "permessage-deflate; client_max_window_bits; server_max_window_bits=8",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8", 8},
	{"13.4 server_max_window_bits=15", "permessage-deflate; client_max_window_bits; server_max_window_bits=15",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15", 15},
	{"13.5 no context takeover, window 8", "permessage-deflate; server_no_context_takeover; client_max_window_bits; server_max_window_bits=8",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8", 8},
	{"13.6 no context takeover, window 15", "permessage-deflate; server_no_context_takeover; client_max_window_bits; server_max_window_bits=15",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15", 15},
	{"13.7 several offers: the first acceptable", "permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=9; client_max_window_bits=9, permessage-deflate",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9", 9},
	{"declined: a repeated parameter", "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", "", 0},
	{"declined: an unknown parameter", "permessage-deflate; mystery=1", "", 0},
}

// sortedParams lists an extension header's options and parameters in a
// fixed order, to compare answers whatever their layout.
func sortedParams(opts []httphead.Option) []string {
	var out []string
	for _, o := range opts {
		out = append(out, string(o.Name))
		o.Parameters.ForEach(func(k, v []byte) bool {
			out = append(out, string(k)+"="+string(v))
			return true
		})
	}
	slices.Sort(out)
	return out
}

// dialOffer opens a raw WebSocket connection offering the extensions in
// offer (a Sec-WebSocket-Extensions value) and returns the answer.
func dialOffer(t *testing.T, addr, offer string) (net.Conn, []httphead.Option) {
	t.Helper()
	opts, ok := httphead.ParseOptions([]byte(offer), nil)
	if !ok {
		t.Fatalf("bad offer %q", offer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, hs, err := ws.Dialer{Extensions: opts}.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatalf("dial with %q: %v", offer, err)
	}
	if br != nil {
		ws.PutReader(br)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, hs.Extensions
}

// deflate compresses p as a permessage-deflate payload (RFC 7692 §7.2.1).
func deflate(t *testing.T, p []byte) []byte {
	t.Helper()
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(p)
	w.Flush()
	return bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// compressedFrames is p compressed and cut into n frames (RSV1 on the
// first only, RFC 7692 §6.1), masked and encoded in one buffer.
func compressedFrames(t *testing.T, op ws.OpCode, p []byte, n int) []byte {
	t.Helper()
	z := deflate(t, p)
	var out []byte
	step := (len(z) + n - 1) / n
	for i := 0; i == 0 || i*step < len(z); i++ {
		part := z[i*step : min(len(z), (i+1)*step)]
		fop := op
		if i > 0 {
			fop = ws.OpContinuation
		}
		f := ws.NewFrame(fop, (i+1)*step >= len(z), part)
		f.Header.Rsv = ws.Rsv(i == 0, false, false)
		b, err := ws.CompileFrame(ws.MaskFrame(f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// plainFrames is p cut into n masked uncompressed frames.
func plainFrames(t *testing.T, op ws.OpCode, p []byte, n int) []byte {
	t.Helper()
	var out []byte
	step := (len(p) + n - 1) / n
	for i := 0; i == 0 || i*step < len(p); i++ {
		fop := op
		if i > 0 {
			fop = ws.OpContinuation
		}
		b, err := ws.CompileFrame(ws.MaskFrame(ws.NewFrame(fop, (i+1)*step >= len(p), p[i*step:min(len(p), (i+1)*step)])))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b...)
	}
	return out
}

// readReply reads the server's next data message (one frame: the worker
// does not fragment) and returns it inflated, and whether it came
// compressed; a close frame is an error naming its code.
func readReply(conn net.Conn) (op ws.OpCode, data []byte, compressed bool, err error) {
	conn.SetReadDeadline(time.Now().Add(expectTimeout))
	for {
		f, err := ws.ReadFrame(conn)
		if err != nil {
			return 0, nil, false, err
		}
		switch f.Header.OpCode {
		case ws.OpText, ws.OpBinary:
			if !f.Header.Fin {
				return 0, nil, false, fmt.Errorf("fragmented reply")
			}
			if !f.Header.Rsv1() {
				return f.Header.OpCode, f.Payload, false, nil
			}
			r := flate.NewReader(io.MultiReader(bytes.NewReader(f.Payload), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
			out, err := io.ReadAll(r)
			if err != nil && err != io.ErrUnexpectedEOF {
				return 0, nil, false, fmt.Errorf("reply does not inflate: %w", err)
			}
			return f.Header.OpCode, out, true, nil
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			return 0, nil, false, fmt.Errorf("closed with %d %q", code, reason)
		}
	}
}

// TestProtocolDeflate: the offers of deflateOfferCases are answered as RFC
// 7692 §7.1 allows, and compressed messages (whole, fragmented, large)
// make the round trip; the worker compresses only what fits the window the
// client allowed.
func TestProtocolDeflate(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 1, maxMessage: "16MiB", extra: []string{"-deflate"}})
	for _, tc := range deflateOfferCases {
		t.Run(tc.name, func(t *testing.T) {
			conn, got := dialOffer(t, c.addr, tc.offer)
			var want []httphead.Option
			if tc.answer != "" {
				want, _ = httphead.ParseOptions([]byte(tc.answer), nil)
			}
			if g, w := sortedParams(got), sortedParams(want); !slices.Equal(g, w) {
				t.Fatalf("offer %q answered %v, want %v", tc.offer, g, w)
			}
			for _, n := range []int{200, 5000} {
				msg := strings.Repeat("κόσμε ", n/len("κόσμε "))
				var frames []byte
				if tc.answer != "" {
					frames = compressedFrames(t, ws.OpText, []byte(msg), 1)
				} else {
					frames = plainFrames(t, ws.OpText, []byte(msg), 1)
				}
				if _, err := conn.Write(frames); err != nil {
					t.Fatal(err)
				}
				_, reply, compressed, err := readReply(conn)
				if err != nil {
					t.Fatalf("%d bytes: %v", len(msg), err)
				}
				if string(reply) != "hello "+msg {
					t.Fatalf("%d bytes: the echo differs", len(msg))
				}
				wantZ := tc.answer != "" && (tc.window == 0 || len(reply) <= 1<<tc.window)
				if compressed != wantZ {
					t.Fatalf("%d-byte reply compressed=%v, want %v (window %d)", len(reply), compressed, wantZ, tc.window)
				}
			}
		})
	}

	random := make([]byte, 900<<10)
	rand.Read(random)
	big := bytes.Repeat([]byte("the quick brown fox jumps over the lazy dog "), 8<<20/44)
	for _, tc := range []struct {
		name   string
		frames []byte
		want   []byte // the echo; nil when the worker must close
		code   ws.StatusCode
	}{
		{"8 MiB compressed text", compressedFrames(t, ws.OpText, big, 1), big, 0},
		{"8 MiB compressed text in 50 fragments", compressedFrames(t, ws.OpText, big, 50), big, 0},
		{"900 KiB uncompressed binary", plainFrames(t, ws.OpBinary, random, 1), random, 0},
		{"900 KiB uncompressed binary in 90 fragments", plainFrames(t, ws.OpBinary, random, 90), random, 0},
		{"empty compressed message", compressedFrames(t, ws.OpText, nil, 1), []byte{}, 0},
		{"compressed past -max-message", compressedFrames(t, ws.OpBinary, make([]byte, 16<<20+1), 1), nil, ws.StatusMessageTooBig},
		{"compressed invalid UTF-8", compressedFrames(t, ws.OpText, []byte("κόσμε\xf4\x90\x80\x80edited"), 1), nil, ws.StatusInvalidFramePayloadData},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, _ := dialOffer(t, c.addr, "permessage-deflate")
			conn.SetWriteDeadline(time.Now().Add(expectTimeout))
			if _, err := conn.Write(tc.frames); err != nil {
				t.Fatal(err)
			}
			if tc.want == nil {
				if code, err := readCloseCode(conn, expectTimeout); err != nil || code != tc.code {
					t.Fatalf("closed with %d (%v), want %d", code, err, tc.code)
				}
				return
			}
			_, reply, _, err := readReply(conn)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(reply, append([]byte("hello "), tc.want...)) {
				t.Fatalf("the echo differs: %d bytes, want %d", len(reply), len(tc.want)+6)
			}
		})
	}
}
