package gateway

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
)

func TestPermessageDeflate(t *testing.T) {
	_, url := startServer(t, Options{Deflate: true, MaxMessage: 64 << 10}, &echo{})
	offer := wsflate.Parameters{ClientNoContextTakeover: true}.Option()
	c, _, hs, err := ws.Dialer{Extensions: []httphead.Option{offer}}.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if len(hs.Extensions) != 1 || string(hs.Extensions[0].Name) != wsflate.ExtensionName {
		t.Fatalf("extensions %v, want permessage-deflate", hs.Extensions)
	}
	text := strings.Repeat("你好，wsfleet! ", 200)
	z := compress([]byte(text))
	f := ws.NewTextFrame(z)
	f.Header.Rsv = ws.Rsv(true, false, false)
	if err := ws.WriteFrame(c, ws.MaskFrame(f)); err != nil {
		t.Fatal(err)
	}
	got, err := ws.ReadFrame(c)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Header.Rsv1() || len(got.Payload) >= len(text) {
		t.Fatalf("answer not compressed: rsv1=%v %d bytes", got.Header.Rsv1(), len(got.Payload))
	}
	if plain := inflateAll(t, got.Payload); string(plain) != text {
		t.Fatalf("round trip: %d bytes", len(plain))
	}

	// A bomb: small compressed, over MaxMessage inflated: 1009.
	bomb := compress(bytes.Repeat([]byte{'a'}, 1<<20))
	f = ws.NewBinaryFrame(bomb)
	f.Header.Rsv = ws.Rsv(true, false, false)
	ws.WriteFrame(c, ws.MaskFrame(f))
	if code := readClose(t, c); code != ws.StatusMessageTooBig {
		t.Fatalf("bomb closed with %d, want 1009", code)
	}
}

// inflateAll is the oracle of the inflating: compress/flate over the whole
// payload and its tail, in one go.
func inflateAll(t *testing.T, z []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader(deflateTail)))
	out, err := io.ReadAll(r)
	if err != nil && err != io.ErrUnexpectedEOF {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func TestNoDeflateWithoutOffer(t *testing.T) {
	_, url := startServer(t, Options{Deflate: true}, &echo{})
	c := dial(t, url)
	text := strings.Repeat("x", 1000)
	ws.WriteFrame(c, ws.MaskFrame(ws.NewTextFrame([]byte(text))))
	got, err := ws.ReadFrame(c)
	if err != nil || got.Header.Rsv1() || string(got.Payload) != text {
		t.Fatalf("plain client got rsv1=%v %d bytes %v", got.Header.Rsv1(), len(got.Payload), err)
	}
	// RSV1 without negotiation is a protocol error.
	f := ws.NewTextFrame([]byte("x"))
	f.Header.Rsv = ws.Rsv(true, false, false)
	ws.WriteFrame(c, ws.MaskFrame(f))
	if code := readClose(t, c); code != ws.StatusProtocolError {
		t.Fatalf("rsv1 without deflate: %d", code)
	}
}

// negotiationCases are permessage-deflate offers (Sec-WebSocket-Extensions)
// and the answer RFC 7692 §7.1 allows; "" is a declined offer (the
// handshake still succeeds, without the extension).
var negotiationCases = []struct{ offer, answer string }{
	{"permessage-deflate", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; client_max_window_bits", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; client_max_window_bits=10", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{`permessage-deflate; client_max_window_bits="9"`, "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	{"permessage-deflate; server_max_window_bits=8", "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8"},
	{"permessage-deflate; server_max_window_bits=15; client_max_window_bits", "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15"},
	{"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12"},
	// Declined (§5): a bad value, a repeated parameter, an unknown one.
	{"permessage-deflate; server_max_window_bits", ""},
	{"permessage-deflate; server_max_window_bits=7", ""},
	{"permessage-deflate; server_max_window_bits=16", ""},
	{"permessage-deflate; server_max_window_bits=08", ""},
	{"permessage-deflate; client_max_window_bits=x", ""},
	{"permessage-deflate; client_max_window_bits; client_max_window_bits", ""},
	{"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10", ""},
	{"permessage-deflate; server_no_context_takeover=1", ""},
	{"permessage-deflate; mystery", ""},
	{"x-webkit-deflate-frame", ""},
	// The first acceptable offer of several wins (Autobahn 13.7).
	{"permessage-deflate; server_max_window_bits=7, permessage-deflate; server_max_window_bits=9, permessage-deflate",
		"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9"},
}

// extensionParams parses one Sec-WebSocket-Extensions value into its
// options' names and parameters, to compare answers whatever their layout.
func extensionParams(t *testing.T, v string) []string {
	t.Helper()
	opts, ok := httphead.ParseOptions([]byte(v), nil)
	if !ok {
		t.Fatalf("cannot parse %q", v)
	}
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

func TestDeflateNegotiation(t *testing.T) {
	_, url := startServer(t, Options{Deflate: true}, &echo{})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	for _, tc := range negotiationCases {
		resp, _ := rawRequest(t, addr, upgradeRequest("Sec-WebSocket-Extensions: "+tc.offer+"\r\n"))
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Errorf("offer %q: status %d, want 101", tc.offer, resp.StatusCode)
			continue
		}
		got := resp.Header.Get("Sec-WebSocket-Extensions")
		if tc.answer == "" {
			if got != "" {
				t.Errorf("offer %q: answered %q, want it declined", tc.offer, got)
			}
			continue
		}
		if g, w := extensionParams(t, got), extensionParams(t, tc.answer); !slices.Equal(g, w) {
			t.Errorf("offer %q: answered %q, want %q", tc.offer, got, tc.answer)
		}
	}
}

// TestDeflateWindowBits: a client that limits the server's window to 2^8
// bytes gets compressed only the messages that fit it, and every message
// back intact.
func TestDeflateWindowBits(t *testing.T) {
	_, url := startServer(t, Options{Deflate: true}, &echo{})
	offer := httphead.Option{Name: []byte("permessage-deflate")}
	offer.Parameters.Set([]byte("server_max_window_bits"), []byte("8"))
	offer.Parameters.Set([]byte("client_max_window_bits"), nil)
	c, _, _, err := ws.Dialer{Extensions: []httphead.Option{offer}}.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{100, 256, 257, 5000} {
		msg := bytes.Repeat([]byte("a"), n)
		if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewBinaryFrame(msg))); err != nil {
			t.Fatal(err)
		}
		got, err := ws.ReadFrame(c)
		if err != nil {
			t.Fatal(err)
		}
		payload := got.Payload
		if got.Header.Rsv1() {
			payload = inflateAll(t, payload)
		}
		if want := n >= deflateMin && n <= 256; got.Header.Rsv1() != want {
			t.Errorf("%d bytes: compressed=%v, want %v", n, got.Header.Rsv1(), want)
		}
		if !bytes.Equal(payload, msg) {
			t.Errorf("%d bytes: echo differs", n)
		}
	}
}

// deflatedFrame is a masked compressed frame of p.
func deflatedFrame(op ws.OpCode, p []byte) []byte {
	f := ws.NewFrame(op, true, compress(p))
	f.Header.Rsv = ws.Rsv(true, false, false)
	return masked(f)
}

// TestInflateYieldsAndResumes: a message that inflates to more than one
// round's budget is delivered after several rounds, whole; nothing more is
// read meanwhile, and the frames read behind it wait their turn.
func TestInflateYieldsAndResumes(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 3*inflateRound/10+7)
	stream := slices.Concat(deflatedFrame(ws.OpText, big), masked(ws.NewTextFrame([]byte("next"))))
	h := &collector{}
	s := New(Options{MaxMessage: 10 << 20}, h, slog.New(slog.DiscardHandler))
	c := s.newConn(handshake{deflate: fullWindow})
	c.tr = &netConn{Conn: &recordConn{}, gone: make(chan struct{})}
	read := func(p []byte) (int, error) {
		if c.rd.busy() {
			t.Fatal("read while a message was being inflated")
		}
		n := copy(p, stream)
		stream = stream[n:]
		return n, nil
	}
	scratch := make([]byte, pollBufferSize)
	rounds := 0
	for len(h.events) < 2 {
		if err := c.readOnce(read, scratch); err != nil {
			t.Fatal(err)
		}
		if rounds++; rounds > 10 {
			t.Fatalf("%d rounds, %d messages", rounds, len(h.events))
		}
		scratch[0] ^= 0xff // the next read reuses the buffer: nothing may point into it
	}
	if rounds < 3 || h.events[0].data != string(big) || h.events[1].data != "next" {
		t.Fatalf("%d rounds; got %d and %q", rounds, len(h.events[0].data), h.events[1].data)
	}
	if c.rd != nil || c.in.p != nil {
		t.Fatal("state kept after the messages")
	}
}

// TestInflateStopsAtTheLimit: a bomb fails with 1009 having inflated no
// more than one byte past Options.MaxMessage, and a compressed text message
// with invalid UTF-8 fails with 1007.
func TestInflateStopsAtTheLimit(t *testing.T) {
	const limit = 1 << 20
	bomb := deflatedFrame(ws.OpBinary, make([]byte, 16<<20))
	_, _, err := feedAll(t, bomb, []int{len(bomb)}, pollBufferSize, Options{MaxMessage: limit}, true)
	if !errors.Is(err, errTooBig) {
		t.Fatalf("bomb: %v, want errTooBig", err)
	}
	bad := deflatedFrame(ws.OpText, append(bytes.Repeat([]byte("é"), 1000), 0xff))
	_, _, err = feedAll(t, bad, []int{len(bad)}, pollBufferSize, Options{MaxMessage: limit}, true)
	if !errors.Is(err, errInvalidUTF8) {
		t.Fatalf("invalid UTF-8: %v", err)
	}
}

// TestInflateOnThePoller: a message that takes several rounds to inflate is
// finished by the poller's wake-ups, with nothing more from the client.
func TestInflateOnThePoller(t *testing.T) {
	_, url := startServer(t, Options{Deflate: true, MaxMessage: 4 << 20}, &echo{})
	offer := httphead.Option{Name: []byte("permessage-deflate")}
	c, _, _, err := ws.Dialer{Extensions: []httphead.Option{offer}}.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second))
	msg := bytes.Repeat([]byte("wsfleet "), (4*inflateRound+100)/8)
	if _, err := c.Write(deflatedFrame(ws.OpBinary, msg)); err != nil {
		t.Fatal(err)
	}
	got, err := ws.ReadFrame(c)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Header.Rsv1() || !bytes.Equal(inflateAll(t, got.Payload), msg) {
		t.Fatal("echo differs")
	}
}
