package gateway

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// event is what a connection did with its input: a message delivered, a
// pong or a close echo written.
type event struct {
	kind string // "text", "binary", "pong", "close"
	data string
}

// collector records messages in order.
type collector struct {
	mu     sync.Mutex
	events []event
}

func (*collector) OnOpen(*Conn) error { return nil }
func (r *collector) OnMessage(_ *Conn, m Message) {
	kind := "text"
	if m.Binary {
		kind = "binary"
	}
	r.mu.Lock()
	r.events = append(r.events, event{kind, string(m.Data)})
	r.mu.Unlock()
}
func (*collector) OnClose(*Conn, int, string) {}

// recordConn is a net.Conn that only records what is written to it.
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (w *recordConn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}
func (*recordConn) SetWriteDeadline(time.Time) error { return nil }
func (*recordConn) CloseWrite() error                { return nil }
func (*recordConn) Close() error                     { return nil }

// naiveEvents is the oracle: it reads the stream frame by frame with
// gobwas/ws and reassembles messages the obvious way.
func naiveEvents(t *testing.T, stream []byte) (msgs, writes []event) {
	t.Helper()
	r := bytes.NewReader(stream)
	var open ws.OpCode
	var buf []byte
	for {
		f, err := ws.ReadFrame(r)
		if err == io.EOF {
			return msgs, writes
		}
		if err != nil {
			t.Fatal(err)
		}
		ws.Cipher(f.Payload, f.Header.Mask, 0)
		switch op := f.Header.OpCode; op {
		case ws.OpPing:
			writes = append(writes, event{"pong", string(f.Payload)})
		case ws.OpClose:
			writes = append(writes, event{"close", string(f.Payload)})
			return msgs, writes // nothing after the close frame counts
		default:
			if op != ws.OpContinuation {
				open, buf = op, nil
			}
			buf = append(buf, f.Payload...)
			if f.Header.Fin {
				kind := "text"
				if open == ws.OpBinary {
					kind = "binary"
				}
				msgs = append(msgs, event{kind, string(buf)})
			}
		}
	}
}

// writtenEvents decodes what the connection wrote.
func writtenEvents(t *testing.T, b []byte) []event {
	t.Helper()
	var out []event
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		f, err := ws.ReadFrame(r)
		if err != nil {
			t.Fatal(err)
		}
		kind := map[ws.OpCode]string{ws.OpPong: "pong", ws.OpClose: "close"}[f.Header.OpCode]
		out = append(out, event{kind, string(f.Payload)})
	}
	return out
}

// testStream is several frames of every kind: lengths on either side of
// the 7-bit and 16-bit encodings, a fragmented message with a ping inside,
// empty frames, a close frame, then bytes that must be ignored.
func testStream(big bool) []byte {
	var b bytes.Buffer
	pattern := func(n int) []byte {
		p := make([]byte, n)
		for i := range p {
			p[i] = byte('a' + i%26)
		}
		return p
	}
	b.Write(masked(ws.NewTextFrame([]byte("héllo"))))
	b.Write(masked(ws.NewBinaryFrame(nil)))
	b.Write(masked(ws.NewBinaryFrame(pattern(125))))
	b.Write(masked(ws.NewBinaryFrame(pattern(126))))
	b.Write(masked(ws.NewFrame(ws.OpText, false, []byte("fr"))))
	b.Write(masked(ws.NewPingFrame([]byte("ping in between"))))
	b.Write(masked(ws.NewFrame(ws.OpContinuation, false, nil)))
	b.Write(masked(ws.NewFrame(ws.OpContinuation, true, []byte("agmented"))))
	b.Write(masked(ws.NewPingFrame(nil)))
	if big {
		b.Write(masked(ws.NewBinaryFrame(pattern(65535))))
		b.Write(masked(ws.NewBinaryFrame(pattern(70000))))
		b.Write(masked(ws.NewFrame(ws.OpBinary, false, pattern(5000))))
		b.Write(masked(ws.NewFrame(ws.OpContinuation, true, pattern(6000))))
	}
	b.Write(masked(ws.NewTextFrame([]byte("last"))))
	b.Write(masked(ws.NewCloseFrame(ws.NewCloseFrameBody(4000, "bye"))))
	b.Write(masked(ws.NewTextFrame([]byte("after the close"))))
	return b.Bytes()
}

// feed runs stream through a fresh connection's readOnce in the given
// chunks, with a scratch buffer of scratchSize, and returns what it did; the
// stream must end with the client's close frame.
func feed(t *testing.T, stream []byte, chunks []int, scratchSize int) (msgs, writes []event) {
	t.Helper()
	msgs, writes, err := feedAll(t, stream, chunks, scratchSize, Options{MaxMessage: 1 << 20}, false)
	if err != errPeerClosed {
		t.Fatalf("ended with %v, want the peer's close", err)
	}
	return msgs, writes
}

// feedAll runs stream through a fresh connection's readOnce in the given
// chunks (each > 0), with a scratch buffer of scratchSize, until readOnce
// fails, and returns what the connection delivered and wrote and the error
// that ended it (io.EOF when the stream ran out).
func feedAll(t *testing.T, stream []byte, chunks []int, scratchSize int, opts Options, deflate bool) (msgs, writes []event, err error) {
	t.Helper()
	h := &collector{}
	s := New(opts, h, slog.New(slog.DiscardHandler))
	var w wbits
	if deflate {
		w = fullWindow
	}
	c := s.newConn(handshake{deflate: w})
	rc := &recordConn{}
	g := &netConn{Conn: rc, gone: make(chan struct{})}
	c.tr = g
	rest := bytes.Clone(stream) // consume unmasks in place
	var pending []byte
	read := func(p []byte) (int, error) {
		if len(pending) == 0 {
			if len(chunks) == 0 {
				return 0, io.EOF
			}
			pending, rest = rest[:chunks[0]], rest[chunks[0]:]
			chunks = chunks[1:]
		}
		n := copy(p, pending)
		pending = pending[n:]
		return n, nil
	}
	scratch := make([]byte, scratchSize)
	for i := 0; err == nil; i++ {
		if i > 2*len(stream)+10 {
			t.Fatal("no progress")
		}
		err = c.readOnce(read, scratch)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Microsecond) {
		c.mu.Lock()
		writing := g.writing
		c.mu.Unlock()
		if !writing {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer did not finish")
		}
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return h.events, writtenEvents(t, rc.out.Bytes()), err
}

func checkFeed(t *testing.T, name string, stream []byte, chunks []int, scratch int) {
	t.Helper()
	wantMsgs, wantWrites := naiveEvents(t, bytes.Clone(stream))
	msgs, writes := feed(t, stream, chunks, scratch)
	if !slices.Equal(msgs, wantMsgs) {
		t.Fatalf("%s: messages differ from the naive reader's (%d vs %d)", name, len(msgs), len(wantMsgs))
	}
	if !slices.Equal(writes, wantWrites) {
		t.Fatalf("%s: writes %v, want %v", name, writes, wantWrites)
	}
}

// split cuts n bytes into chunks of the given sizes (the last one takes
// the rest).
func split(n int, sizes ...int) []int {
	var out []int
	for _, s := range sizes {
		if s > 0 && s < n {
			out = append(out, s)
			n -= s
		}
	}
	return append(out, n)
}

// TestPartialFramesAtEveryBoundary splits a stream at every byte: the frame
// core must keep partial frames and deliver exactly what a naive reader
// sees, whatever the reads look like.
func TestPartialFramesAtEveryBoundary(t *testing.T) {
	stream := testStream(false)
	for _, scratch := range []int{16, readBufferSize, pollBufferSize} {
		for k := 1; k < len(stream); k++ {
			checkFeed(t, fmt.Sprintf("scratch %d, split at %d", scratch, k), stream, split(len(stream), k), scratch)
		}
	}
}

func TestPartialFramesByteByByteAndRandomChunks(t *testing.T) {
	small := testStream(false)
	ones := make([]int, len(small))
	for i := range ones {
		ones[i] = 1
	}
	checkFeed(t, "byte by byte", small, ones, pollBufferSize)
	// The big stream has 64-bit lengths and frames larger than any
	// buffer; its chunks are tiny or large, at random.
	big := testStream(true)
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		var chunks []int
		for n := len(big); n > 0; {
			k := 1 + rng.IntN(16)
			if rng.IntN(2) == 0 {
				k = 1 + rng.IntN(9000)
			}
			chunks = append(chunks, min(n, k))
			n -= min(n, k)
		}
		scratch := []int{7, readBufferSize, pollBufferSize}[round%3]
		checkFeed(t, fmt.Sprintf("round %d", round), big, chunks, scratch)
	}
}

// TestPayloadIsKeptAsItArrives: a header announcing a large frame takes
// nothing; its payload is kept as it comes, in as many chunks as what came
// needs; once the message is delivered the connection keeps nothing.
func TestPayloadIsKeptAsItArrives(t *testing.T) {
	h := &collector{}
	s := New(Options{MaxMessage: 10 << 20}, h, slog.New(slog.DiscardHandler))
	c := s.newConn(handshake{})
	const size = 1 << 20
	frame := masked(ws.NewBinaryFrame(bytes.Repeat([]byte("x"), size)))
	hdrLen := len(frame) - size
	budget := inflateRound
	if err := c.keep(bytes.Clone(frame[:hdrLen]), &budget); err != nil {
		t.Fatal(err)
	}
	if c.rd == nil || len(c.rd.data.list) != 0 || len(c.in.bytes()) != 0 {
		t.Fatalf("a header alone took %d chunks (input %d bytes)", len(c.rd.data.list), len(c.in.bytes()))
	}
	sent := hdrLen
	for _, n := range []int{1, 4095, 60000, 200000} {
		if err := c.keep(bytes.Clone(frame[sent:sent+n]), &budget); err != nil {
			t.Fatal(err)
		}
		sent += n
		got := sent - hdrLen
		if c.rd.data.len() != got || len(c.rd.data.list) != (got+chunkSize-1)/chunkSize {
			t.Fatalf("after %d payload bytes: kept %d in %d chunks", got, c.rd.data.len(), len(c.rd.data.list))
		}
	}
	if err := c.keep(bytes.Clone(frame[sent:]), &budget); err != nil {
		t.Fatal(err)
	}
	if c.rd != nil || c.in.p != nil {
		t.Fatalf("kept state after the message: %+v, %d input bytes", c.rd, len(c.in.bytes()))
	}
	if len(h.events) != 1 || len(h.events[0].data) != size {
		t.Fatalf("delivered %d messages", len(h.events))
	}
}

// TestFragmentsAreNotDoubled: an unfinished fragmented message costs its
// size rounded up to a chunk, not twice it.
func TestFragmentsAreNotDoubled(t *testing.T) {
	s := New(Options{MaxMessage: 10 << 20}, &collector{}, slog.New(slog.DiscardHandler))
	c := s.newConn(handshake{})
	budget := inflateRound
	sent := 0
	for i := range 40 {
		op := ws.OpContinuation
		if i == 0 {
			op = ws.OpBinary
		}
		p := make([]byte, 100<<10)
		if err := c.keep(masked(ws.NewFrame(op, false, p)), &budget); err != nil {
			t.Fatal(err)
		}
		sent += len(p)
	}
	if c.rd.data.len() != sent || len(c.rd.data.list)*chunkSize > sent+chunkSize {
		t.Fatalf("%d bytes sent kept in %d chunks", sent, len(c.rd.data.list))
	}
}

// TestContinuationLengthCannotOverflowTheLimit: a continuation frame whose
// announced length, added to the message so far, overflows int64 must be
// refused like any other oversized one, not taken as a frame that never
// ends (a client would then stream into the server's memory without bound).
func TestContinuationLengthCannotOverflowTheLimit(t *testing.T) {
	s := New(Options{MaxMessage: 1 << 20}, &collector{}, slog.New(slog.DiscardHandler))
	c := s.newConn(handshake{})
	budget := inflateRound
	if err := c.keep(masked(ws.NewFrame(ws.OpBinary, false, []byte("x"))), &budget); err != nil {
		t.Fatal(err)
	}
	hdr := ws.Header{Fin: true, OpCode: ws.OpContinuation, Length: 1<<63 - 1, Masked: true}
	var b bytes.Buffer
	if err := ws.WriteHeader(&b, hdr); err != nil {
		t.Fatal(err)
	}
	if err := c.keep(b.Bytes(), &budget); err != errTooBig {
		t.Fatalf("a continuation announcing 2^63-1 bytes: %v, want errTooBig", err)
	}
}

// TestEndMidMessageReturnsItsChunks: a connection that ends in the middle
// of a message gives the message's chunks back to the pool, as every other
// path does (here the goroutine engine's read loop; the poller's finish
// calls the same release).
func TestEndMidMessageReturnsItsChunks(t *testing.T) {
	s := New(Options{MaxMessage: 10 << 20}, &collector{}, slog.New(slog.DiscardHandler))
	c := s.newConn(handshake{})
	srv, cli := net.Pipe()
	g := &netConn{Conn: srv, gone: make(chan struct{}), room: make(chan struct{}, 1)}
	c.tr = g
	c.in.set(masked(ws.NewFrame(ws.OpBinary, false, make([]byte, 100<<10))))
	if err := c.consumePending(); err != nil {
		t.Fatal(err)
	}
	r := c.rd
	if r == nil || len(r.data.list) != 2 {
		t.Fatalf("an unfinished 100 KiB message: reader %+v", r)
	}
	cli.Close() // the client goes away mid-message
	g.readLoop(c)
	if c.rd != nil || r.data.list != nil || r.data.len() != 0 {
		t.Fatalf("after the end: reader %v, %d chunks holding %d bytes kept", c.rd, len(r.data.list), r.data.len())
	}
}
