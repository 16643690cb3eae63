//go:build linux

package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// settle polls until the goroutine count is at most want, and reports it.
func settle(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// TestManyIdleConnectionsThenBroadcast: idle connections hold no
// goroutine; a broadcast reaches all of them (spread over goroutines);
// they leave, the registry empties and no goroutine is left behind.
func TestManyIdleConnectionsThenBroadcast(t *testing.T) {
	before := runtime.NumGoroutine()
	const n = 3 * fanOutChunk
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &echo{}
	s := New(Options{PingInterval: -1, Cores: 2}, h, nil) // two writers per broadcast
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Serve(ctx, ln)
	}()
	url := "ws://" + ln.Addr().String() + "/"
	clients := make([]net.Conn, n)
	for i := range clients {
		clients[i] = dial(t, url)
	}
	waitFor(t, func() bool { return s.Len() == n })
	// Idle: the engine's pollers, the sweeper and the accept loop, not
	// one goroutine per connection.
	if got := settle(before + 2*runtime.GOMAXPROCS(0) + 10); got > before+2*runtime.GOMAXPROCS(0)+10 {
		t.Fatalf("%d goroutines for %d idle connections (%d before)", got, n, before)
	}
	if got := s.Broadcast(ws.OpText, []byte("to everyone"), clients[0].LocalAddr().String()); got != n {
		t.Fatalf("broadcast queued for %d, want %d", got, n)
	}
	for i, c := range clients {
		data, _, err := wsutil.ReadServerData(c)
		if err != nil || string(data) != "to everyone" {
			t.Fatalf("client %d: %q %v", i, data, err)
		}
	}
	for _, c := range clients {
		ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := s.WaitEmpty(wctx); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	if len(h.closed) != n {
		t.Fatalf("%d OnClose calls, want %d", len(h.closed), n)
	}
	h.mu.Unlock()
	cancel()
	<-served
	if err := s.Shutdown(wctx, ws.StatusGoingAway, ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.Close()
	}
	if got := settle(before); got > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines after Shutdown, %d before:\n%s", got, before, buf[:runtime.Stack(buf, true)])
	}
}

// TestSlowReaderAmongMany: a client that stops reading is closed with 1008
// when it passes SendBuffer, while every other client gets every broadcast
// in order.
func TestSlowReaderAmongMany(t *testing.T) {
	s, url := startServer(t, Options{SendBuffer: 256 << 10, PingInterval: -1}, &echo{})
	slow := dialSmall(t, url)
	fast := make([]net.Conn, 20)
	for i := range fast {
		fast[i] = dial(t, url)
	}
	waitFor(t, func() bool { return s.Len() == len(fast)+1 })
	payload := bytes.Repeat([]byte("x"), 32<<10)
	var sent int
	for sent = 0; sent < 2000 && s.Stats().SendFailures == 0; sent++ {
		binary.BigEndian.PutUint32(payload, uint32(sent))
		s.Broadcast(ws.OpBinary, payload, "")
		for i, c := range fast {
			data, _, err := wsutil.ReadServerData(c)
			if err != nil || binary.BigEndian.Uint32(data) != uint32(sent) {
				t.Fatalf("fast client %d, message %d: %d bytes, %v", i, sent, len(data), err)
			}
		}
	}
	if s.Stats().SendFailures == 0 {
		t.Fatal("the slow client never hit the limit")
	}
	// The slow client reads again: the messages in order, then 1008.
	for i := 0; ; i++ {
		f, err := ws.ReadFrame(slow)
		if err != nil {
			t.Fatalf("slow client after %d messages: %v", i, err)
		}
		if f.Header.OpCode == ws.OpClose {
			if code, _ := ws.ParseCloseFrameData(f.Payload); code != ws.StatusPolicyViolation {
				t.Fatalf("slow client closed with %d, want 1008", code)
			}
			break
		}
		if got := binary.BigEndian.Uint32(f.Payload); got != uint32(i) {
			t.Fatalf("slow client: message %d is number %d", i, got)
		}
	}
	slow.Close()
	waitFor(t, func() bool { return s.Len() == len(fast) })
}

// dialSmall dials with a small receive buffer, so that the server's
// socket fills quickly when the client does not read.
func dialSmall(t *testing.T, url string) net.Conn {
	t.Helper()
	d := ws.Dialer{NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
			return rc.Control(func(fd uintptr) {
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
			})
		}}
		return nd.DialContext(ctx, network, addr)
	}}
	c, _, _, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	return c
}

// TestFullSocketThenResume: a client that stops reading for a while gets,
// once it reads again, every byte in order. Send never blocks meanwhile:
// the rest waits in the outbox and the poller finishes on EPOLLOUT.
func TestFullSocketThenResume(t *testing.T) {
	o := &opener{conns: make(chan *Conn, 1)}
	_, url := startServer(t, Options{SendBuffer: 16 << 20, PingInterval: -1}, o)
	c := dialSmall(t, url)
	sc := <-o.conns
	const msgs, size = 256, 16 << 10
	payload := make([]byte, size)
	// Send must not block: if it waited for the client, which reads
	// nothing until every Send has returned, this loop would never end.
	for i := range msgs {
		for j := range payload {
			payload[j] = byte(i + j)
		}
		if err := sc.Send(ws.OpBinary, payload); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	sc.mu.Lock()
	waiting := sc.waitOut
	sc.mu.Unlock()
	if !waiting {
		t.Fatal("4 MiB went out to a client that reads nothing: the socket never filled")
	}
	for i := range msgs {
		data, _, err := wsutil.ReadServerData(c)
		if err != nil || len(data) != size {
			t.Fatalf("message %d: %d bytes, %v", i, len(data), err)
		}
		for j := range data {
			if data[j] != byte(i+j) {
				t.Fatalf("message %d byte %d: %d, want %d", i, j, data[j], byte(i+j))
			}
		}
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.waitOut || sc.out != nil {
		t.Fatalf("after the drain: waitOut %v, %d bytes queued, write state kept", sc.waitOut, sc.queuedLocked())
	}
}

// TestCloseHandshakeTimeout: a client that never answers the server's
// close frame loses TCP after CloseTimeout, by the sweeper.
func TestCloseHandshakeTimeout(t *testing.T) {
	o := &opener{conns: make(chan *Conn, 1)}
	s, url := startServer(t, Options{CloseTimeout: 200 * time.Millisecond, PingInterval: -1}, o)
	c := dial(t, url)
	sc := <-o.conns
	start := time.Now()
	sc.Close(4002, "go")
	if code := readClose(t, c); code != 4002 {
		t.Fatalf("close %d, want 4002", code)
	}
	if _, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("after the close frame: %v", err)
	}
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Fatalf("TCP closed after %v, want about the 200ms close timeout", d)
	}
	waitFor(t, func() bool { return s.Len() == 0 })
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.closed) != 1 || o.closed[0] != 4002 {
		t.Fatalf("OnClose codes %v, want [4002]", o.closed)
	}
}

// TestWriteTimeout: a client that takes no byte for WriteTimeout is cut.
func TestWriteTimeout(t *testing.T) {
	o := &opener{conns: make(chan *Conn, 1)}
	s, url := startServer(t, Options{WriteTimeout: 300 * time.Millisecond, SendBuffer: 64 << 20, PingInterval: -1}, o)
	dialSmall(t, url)
	sc := <-o.conns
	payload := make([]byte, 64<<10)
	for i := 0; i < 1000; i++ {
		sc.mu.Lock()
		full := sc.waitOut
		sc.mu.Unlock()
		if full {
			break
		}
		sc.Send(ws.OpBinary, payload)
	}
	waitFor(t, func() bool { return s.Len() == 0 })
	if s.Stats().SendFailures == 0 {
		t.Fatal("no send failure counted")
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.closed) != 1 || o.closed[0] != int(ws.StatusAbnormalClosure) {
		t.Fatalf("OnClose codes %v, want [1006]", o.closed)
	}
}

// TestOnOpenRefusalLingers: an OnOpen error closes with its code, and the
// frames the client sent meanwhile are drained, not answered with a reset.
func TestOnOpenRefusalLingers(t *testing.T) {
	s, url := startServer(t, Options{}, &refuser{})
	nc, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	// The close frame came right behind the 101 response: it may be in br.
	c := net.Conn(nc)
	if br != nil {
		c = bufferedConn{nc, io.MultiReader(br, nc)}
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewTextFrame([]byte("ignored"))))
	if code := readClose(t, c); code != 4403 {
		t.Fatalf("close %d, want 4403", code)
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(4403, ""))))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("after the close frame: %v", err)
	}
	nc.Close()
	waitFor(t, func() bool { return s.Len() == 0 })
}

type refuser struct{ echo }

func (*refuser) OnOpen(*Conn) error { return &CloseError{Code: 4403, Reason: "no"} }

// TestCallbacksInOrder: many messages from many clients, each client's in
// order and never two callbacks of one connection at once.
func TestCallbacksInOrder(t *testing.T) {
	h := &orderChecker{next: map[*Conn]uint32{}, in: map[*Conn]bool{}}
	s, url := startServer(t, Options{}, h)
	var wg sync.WaitGroup
	for range 8 {
		c := dial(t, url)
		wg.Go(func() {
			var out bytes.Buffer
			for i := range uint32(500) {
				out.Write(masked(ws.NewBinaryFrame(binary.BigEndian.AppendUint32(nil, i))))
			}
			c.Write(out.Bytes())
			ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(nil)))
			io.Copy(io.Discard, c)
		})
	}
	wg.Wait()
	waitFor(t, func() bool { return s.Len() == 0 })
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		t.Fatal(h.err)
	}
	for c, n := range h.next {
		if n != 500 {
			t.Fatalf("%s: %d messages, want 500", c.ID(), n)
		}
	}
}

type orderChecker struct {
	mu   sync.Mutex
	next map[*Conn]uint32
	in   map[*Conn]bool
	err  error
}

func (h *orderChecker) enter(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.in[c] && h.err == nil {
		h.err = errors.New("overlapping callbacks on " + c.ID())
	}
	h.in[c] = true
}

func (h *orderChecker) leave(c *Conn) {
	h.mu.Lock()
	h.in[c] = false
	h.mu.Unlock()
}

func (h *orderChecker) OnOpen(c *Conn) error { h.enter(c); h.leave(c); return nil }
func (h *orderChecker) OnMessage(c *Conn, m Message) {
	h.enter(c)
	defer h.leave(c)
	h.mu.Lock()
	defer h.mu.Unlock()
	if got := binary.BigEndian.Uint32(m.Data); got != h.next[c] && h.err == nil {
		h.err = errors.New("out of order on " + c.ID())
	}
	h.next[c]++
}
func (h *orderChecker) OnClose(c *Conn, _ int, _ string) { h.enter(c); h.leave(c) }

// bufferedConn reads first what the dialer's reader buffered.
type bufferedConn struct {
	net.Conn
	r io.Reader
}

func (c bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// burster answers one message with n large messages, all from OnMessage.
type burster struct {
	echo
	n, size int
}

func (b *burster) OnMessage(c *Conn, _ Message) {
	for i := range b.n {
		c.Send(ws.OpBinary, bytes.Repeat([]byte{byte(i)}, b.size))
	}
}

// TestBurstFromOneCallback: replies queued by one callback are written as
// they come once they pass holdFlushMax, not all at the end, so a client
// that reads them does not hit SendBuffer.
func TestBurstFromOneCallback(t *testing.T) {
	h := &burster{n: 12, size: 128 << 10}
	s, url := startServer(t, Options{SendBuffer: 1 << 20, PingInterval: -1}, h)
	c := dial(t, url)
	if err := wsutil.WriteClientText(c, []byte("go")); err != nil {
		t.Fatal(err)
	}
	for i := range h.n {
		data, _, err := wsutil.ReadServerData(c)
		if err != nil || len(data) != h.size || data[0] != byte(i) {
			t.Fatalf("message %d: %d bytes, %v", i, len(data), err)
		}
	}
	if f := s.Stats().SendFailures; f != 0 {
		t.Fatalf("%d send failures", f)
	}
}
