package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// fuzzMaxMessage is small so that the fuzzer reaches the size limit, for
// plain and for compressed messages.
const fuzzMaxMessage = 4096

// FuzzFrames feeds arbitrary client bytes to the frame core, once in one
// read and once cut into reads at random, with and without
// permessage-deflate. Whatever the bytes:
//   - nothing panics, and what the server writes back is well-formed frames;
//   - both feeds deliver the same messages, write the same pongs and close
//     echo, and end with the same error: how the reads fall never changes
//     what a client's bytes mean;
//   - a text message delivered is valid UTF-8, and no message is larger than
//     Options.MaxMessage;
//   - the connection ends only because the bytes ran out, the client closed,
//     or with a close code that blames the client (1002, 1007 or 1009),
//     never the server's 1011.
//
// `go test` runs the seeds below; `go test -fuzz FuzzFrames ./pkg/gateway`
// searches further.
func FuzzFrames(f *testing.F) {
	text := func(fin bool, p string) []byte { return masked(ws.NewFrame(ws.OpText, fin, []byte(p))) }
	cont := func(fin bool, p string) []byte { return masked(ws.NewFrame(ws.OpContinuation, fin, []byte(p))) }
	deflated := func(p []byte) []byte {
		z := compress(p)
		fr := ws.NewFrame(ws.OpText, true, z)
		fr.Header.Rsv = ws.Rsv(true, false, false)
		return masked(fr)
	}
	unmasked := func(fr ws.Frame) []byte {
		var b bytes.Buffer
		ws.WriteFrame(&b, fr)
		return b.Bytes()
	}
	seeds := []struct {
		stream  []byte
		deflate bool
	}{
		{testStream(false), false},
		{testStream(false), true},
		{slices.Concat(text(false, "frag"), masked(ws.NewPingFrame([]byte("p"))), cont(true, "mented")), false},
		{text(true, "\xff\xfe"), false},                                                                     // invalid UTF-8: 1007
		{slices.Concat(text(false, "\xe4\xbd"), cont(true, "\xa0")), false},                                 // UTF-8 split across frames: valid
		{slices.Concat(text(false, "κόσμε"), cont(false, "\xf4\x90\x80\x80"), cont(true, "edited")), false}, // Autobahn 6.4.1: 1007
		{slices.Concat(text(false, "ok\xf4"), cont(false, "\x90"), cont(true, "x")), false},                 // fails on the 2nd fragment
		{slices.Concat(text(false, "\xed"), masked(ws.NewPingFrame(nil)), cont(true, "\xa0\x80")), false},   // a surrogate across a ping
		{deflated([]byte("κόσμε\xf4\x90\x80\x80edited")), true},                                             // compressed invalid UTF-8: 1007
		{unmasked(ws.NewTextFrame([]byte("hi"))), false},                                                    // unmasked: 1002
		{cont(true, "no message open"), false},                                                              // 1002
		{text(true, string(make([]byte, fuzzMaxMessage+1))), false},                                         // 1009
		{masked(ws.NewPingFrame(make([]byte, 126))), false},                                                 // control frame too long: 1002
		{masked(ws.NewCloseFrame([]byte{3})), false},                                                        // one-byte close payload: 1002
		{masked(ws.NewCloseFrame(ws.NewCloseFrameBody(999, ""))), false},
		{masked(ws.NewCloseFrame(ws.NewCloseFrameBody(1000, "\xff"))), false},
		{deflated([]byte("你好!")), true},
		{deflated(bytes.Repeat([]byte("a"), 10*fuzzMaxMessage)), true}, // a small frame inflating past the limit: 1009
		{deflated([]byte("rsv1 without the extension")), false},        // 1002
		{slices.Concat(text(true, "x")[:2], []byte{0xff, 0xff, 0xff, 0xff}), false},
		{[]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, false}, // 64-bit length with the top bit set
		{[]byte{0x81}, false},
		{nil, false},
	}
	for i, s := range seeds {
		f.Add(s.stream, uint64(i), s.deflate)
	}
	f.Fuzz(func(t *testing.T, stream []byte, seed uint64, deflate bool) {
		opts := Options{MaxMessage: fuzzMaxMessage}
		var whole []int
		if len(stream) > 0 {
			whole = []int{len(stream)}
		}
		msgs, writes, err := feedAll(t, stream, whole, pollBufferSize, opts, deflate)

		rng := rand.New(rand.NewPCG(seed, seed>>32))
		var chunks []int
		for n := len(stream); n > 0; {
			k := min(n, 1+rng.IntN(1+min(n, 64)))
			chunks = append(chunks, k)
			n -= k
		}
		scratch := []int{7, readBufferSize, pollBufferSize}[seed%3]
		cmsgs, cwrites, cerr := feedAll(t, stream, chunks, scratch, opts, deflate)

		if !slices.Equal(msgs, cmsgs) {
			t.Fatalf("one read delivered %q, reads of %v delivered %q", msgs, chunks, cmsgs)
		}
		if !slices.Equal(writes, cwrites) {
			t.Fatalf("one read wrote %v, reads of %v wrote %v", writes, chunks, cwrites)
		}
		if err.Error() != cerr.Error() {
			t.Fatalf("one read ended with %v, reads of %v with %v", err, chunks, cerr)
		}
		for _, m := range msgs {
			if len(m.data) > fuzzMaxMessage {
				t.Fatalf("delivered %d bytes, over MaxMessage %d", len(m.data), fuzzMaxMessage)
			}
			if m.kind == "text" && !utf8.ValidString(m.data) {
				t.Fatalf("delivered invalid UTF-8 as text: %q", m.data)
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, errPeerClosed) {
			return
		}
		switch code, reason := closeFor(err); code {
		case ws.StatusProtocolError, ws.StatusInvalidFramePayloadData, ws.StatusMessageTooBig:
		default:
			t.Fatalf("ended with %v: close %d %q, want a code that blames the client", err, code, reason)
		}
	})
}

// FuzzUTF8 checks the incremental UTF-8 validator against the brute-force
// oracle naiveFirstBad, with the bytes cut at random: the message is valid
// exactly when utf8.Valid says so, and fails in the chunk holding the first
// byte after which nothing valid can follow.
func FuzzUTF8(f *testing.F) {
	for _, s := range []string{"κόσμε\xf4\x90\x80\x80edited", "\xed\xa0\x80", "你好", "\xf0\x90", "a\xc0\xaf"} {
		f.Add([]byte(s), uint64(len(s)))
	}
	f.Fuzz(func(t *testing.T, p []byte, seed uint64) {
		if len(p) > 64 {
			p = p[:64] // the oracle is brute force
		}
		rng := rand.New(rand.NewPCG(seed, 1))
		var chunks []int
		for n := len(p); n > 0; {
			k := min(n, rng.IntN(5))
			chunks = append(chunks, k)
			n -= k
		}
		failed, valid := feedUTF8(p, chunks)
		if valid != utf8.Valid(p) {
			t.Fatalf("%x in %v: valid=%v", p, chunks, valid)
		}
		bad, want := naiveFirstBad(p), -1
		for i, end := 0, 0; bad < len(p) && i < len(chunks); i++ {
			if end += chunks[i]; bad < end {
				want = i
				break
			}
		}
		if failed != want {
			t.Fatalf("%x in %v: failed in chunk %d, want %d", p, chunks, failed, want)
		}
	})
}

// FuzzHandshake sends arbitrary bytes as a client's opening, over real
// loopback TCP to a running Server with the echo handler, then half-closes.
// Whatever the bytes, nothing panics and the server ends the connection; if
// the request head is complete (or too large to be), the server answers
// with a well-formed HTTP response, and after a 101 what follows is
// well-formed WebSocket frames.
//
// `go test` runs the seeds below; `go test -fuzz FuzzHandshake ./pkg/gateway`
// searches further.
func FuzzHandshake(f *testing.F) {
	upgrade := "GET /chat?x=1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, s := range []string{
		upgrade + "\r\n",
		upgrade + "\r\n" + string(masked(ws.NewTextFrame([]byte("behind the head")))),
		upgrade + "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
		upgrade + "Sec-WebSocket-Protocol: a, b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",    // no key
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",                          // plain HTTP
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc", // plain HTTP with a body
		"GET / HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n\r\n",
		"\r\n\r\n",
		"GET / HTTP/1.1\r\nX: " + string(bytes.Repeat([]byte("a"), 5000)) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h",
		"",
	} {
		f.Add([]byte(s))
	}
	_, url := startServer(f, Options{MaxMessage: fuzzMaxMessage, HandshakeTimeout: 10 * time.Second}, &echo{})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	f.Fuzz(func(t *testing.T, opening []byte) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := nc.Write(opening); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Fatalf("write: %v", err)
		}
		nc.(*net.TCPConn).CloseWrite()
		out, err := io.ReadAll(nc)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("the server did not end the connection: %v (after %q)", err, out)
		}
		end := bytes.Index(opening, []byte("\r\n\r\n"))
		complete := end >= 0 || len(opening) > 0 // a head cut short gets 400 too
		if len(out) == 0 {
			if complete {
				t.Fatalf("no answer to a complete request head %q", opening)
			}
			return
		}
		br := bufio.NewReader(bytes.NewReader(out))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("answer is not an HTTP response: %v\n%q", err, out)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			return
		}
		for {
			if _, err := ws.ReadFrame(br); err == io.EOF {
				return
			} else if err != nil {
				t.Fatalf("after the 101, a bad frame: %v\n%q", err, out)
			}
		}
	})
}
