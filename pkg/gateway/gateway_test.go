package gateway

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// echo answers every message with itself and records close codes.
type echo struct {
	mu     sync.Mutex
	closed []int
}

func (*echo) OnOpen(*Conn) error { return nil }
func (*echo) OnMessage(c *Conn, m Message) {
	op := ws.OpText
	if m.Binary {
		op = ws.OpBinary
	}
	c.Send(op, m.Data)
}
func (e *echo) OnClose(_ *Conn, code int, _ string) {
	e.mu.Lock()
	e.closed = append(e.closed, code)
	e.mu.Unlock()
}

// opener hands every new connection to the test.
type opener struct {
	echo
	conns chan *Conn
}

func (o *opener) OnOpen(c *Conn) error {
	o.conns <- c
	return nil
}

// startServer runs a Server on a loopback port until the test or benchmark
// ends.
func startServer(t testing.TB, opts Options, h Handler) (*Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startServerOn(t, ln, opts, h)
}

// netListener hides a *net.TCPListener's type, so that Serve accepts
// through net.Listener (the path of TLS and of other listeners).
type netListener struct{ net.Listener }

// startServerOn is startServer on the listener ln.
func startServerOn(t testing.TB, ln net.Listener, opts Options, h Handler) (*Server, string) {
	t.Helper()
	s := New(opts, h, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		s.Shutdown(sctx, ws.StatusGoingAway, "test over")
	})
	return s, "ws://" + ln.Addr().String() + "/"
}

func dial(t *testing.T, url string) net.Conn {
	t.Helper()
	c, _, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// readClose reads frames until a close frame and returns its code.
func readClose(t *testing.T, c net.Conn) ws.StatusCode {
	t.Helper()
	for {
		f, err := ws.ReadFrame(c)
		if err != nil {
			t.Fatalf("no close frame: %v", err)
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			return code
		}
	}
}

func TestEchoAndClientClose(t *testing.T) {
	h := &echo{}
	s, url := startServer(t, Options{}, h)
	c := dial(t, url)
	for _, op := range []ws.OpCode{ws.OpText, ws.OpBinary} {
		if err := wsutil.WriteClientMessage(c, op, []byte("héllo")); err != nil {
			t.Fatal(err)
		}
		data, gotOp, err := wsutil.ReadServerData(c)
		if err != nil || gotOp != op || string(data) != "héllo" {
			t.Fatalf("got %v %q %v", gotOp, data, err)
		}
	}
	// The client's close is echoed with the same code (RFC 6455 §5.5.1).
	body := ws.NewCloseFrameBody(4001, "bye")
	if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(body))); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, c); code != 4001 {
		t.Fatalf("echoed close code %d, want 4001", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitEmpty(ctx); err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.closed) != 1 || h.closed[0] != 4001 {
		t.Fatalf("OnClose codes %v, want [4001]", h.closed)
	}
}

// TestSlowClientIsClosedAndOthersServed: a client that stops reading is
// closed with 1008 once its queue passes SendBuffer, while a broadcast
// still reaches a reading client.
func TestSlowClientIsClosedAndOthersServed(t *testing.T) {
	s, url := startServer(t, Options{SendBuffer: 64 << 10, WriteTimeout: 20 * time.Second}, &echo{})
	slow := dial(t, url)
	fast := dial(t, url)
	waitFor(t, func() bool { return s.Len() == 2 })
	payload := bytes.Repeat([]byte("x"), 16<<10)
	// Bounded: the kernel's socket buffers (a few MiB on loopback) plus
	// 64 KiB fill long before this.
	for i := 0; i < 4000 && s.Stats().SendFailures == 0; i++ {
		s.Broadcast(ws.OpBinary, payload, "")
		data, _, err := wsutil.ReadServerData(fast)
		if err != nil || len(data) != len(payload) {
			t.Fatalf("fast client: %d bytes, %v", len(data), err)
		}
	}
	if s.Stats().SendFailures == 0 {
		t.Fatal("slow client never hit the limit")
	}
	// The slow client reads again: behind the queued data is a close 1008.
	slow.SetDeadline(time.Now().Add(20 * time.Second))

	if code := readClose(t, slow); code != ws.StatusPolicyViolation {
		t.Fatalf("slow client closed with %d, want 1008", code)
	}
	if n := s.Metrics().SendBufferCloses; n != 1 {
		t.Fatalf("send buffer closes %d, want 1", n)
	}
}

func TestProtocolErrors(t *testing.T) {
	_, url := startServer(t, Options{MaxMessage: 1024}, &echo{})
	cases := []struct {
		name  string
		frame func() []byte
		want  ws.StatusCode
	}{
		{"unmasked", func() []byte { return compile(ws.OpText, []byte("hi")) }, ws.StatusProtocolError},
		{"reserved opcode", func() []byte { return masked(ws.Frame{Header: ws.Header{Fin: true, OpCode: 0x3}}) }, ws.StatusProtocolError},
		{"rsv bit", func() []byte {
			return masked(ws.Frame{Header: ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: ws.OpText}})
		}, ws.StatusProtocolError},
		{"fragmented ping", func() []byte { return masked(ws.Frame{Header: ws.Header{OpCode: ws.OpPing}}) }, ws.StatusProtocolError},
		{"lone continuation", func() []byte { return masked(ws.NewFrame(ws.OpContinuation, true, []byte("x"))) }, ws.StatusProtocolError},
		{"bad utf8", func() []byte { return masked(ws.NewTextFrame([]byte{0xff, 0xfe})) }, ws.StatusInvalidFramePayloadData},
		{"too big", func() []byte { return masked(ws.NewBinaryFrame(make([]byte, 2048))) }, ws.StatusMessageTooBig},
		{"close code 1005", func() []byte { return masked(ws.NewCloseFrame(ws.NewCloseFrameBody(1005, ""))) }, ws.StatusProtocolError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, url)
			if _, err := c.Write(tc.frame()); err != nil {
				t.Fatal(err)
			}
			if code := readClose(t, c); code != tc.want {
				t.Fatalf("close %d, want %d", code, tc.want)
			}
			// Then TCP is closed.
			if _, err := io.ReadAll(c); err != nil {
				t.Fatalf("after close frame: %v", err)
			}
		})
	}
}

func TestPingInsideFragmentedMessage(t *testing.T) {
	_, url := startServer(t, Options{}, &echo{})
	c := dial(t, url)
	var out bytes.Buffer
	out.Write(masked(ws.NewFrame(ws.OpText, false, []byte("he"))))
	out.Write(masked(ws.NewPingFrame([]byte("p"))))
	out.Write(masked(ws.NewFrame(ws.OpContinuation, true, []byte("llo"))))
	c.Write(out.Bytes())
	f, err := ws.ReadFrame(c)
	if err != nil || f.Header.OpCode != ws.OpPong || string(f.Payload) != "p" {
		t.Fatalf("want pong p, got %v %q %v", f.Header.OpCode, f.Payload, err)
	}
	data, op, err := wsutil.ReadServerData(c)
	if err != nil || op != ws.OpText || string(data) != "hello" {
		t.Fatalf("got %v %q %v", op, data, err)
	}
}

func TestIdleTimeoutClosesWith1001(t *testing.T) {
	_, url := startServer(t, Options{IdleTimeout: 200 * time.Millisecond, PingInterval: -1}, &echo{})
	c := dial(t, url)
	if code := readClose(t, c); code != ws.StatusGoingAway {
		t.Fatalf("idle close %d, want 1001", code)
	}
}

func TestShutdownSendsCodeAndWaits(t *testing.T) {
	s, url := startServer(t, Options{CloseTimeout: 300 * time.Millisecond}, &echo{})
	c := dial(t, url)
	waitFor(t, func() bool { return s.Len() == 1 })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		done <- s.Shutdown(ctx, StatusServiceRestart, "restarting")
	}()
	// The client never answers the close: the server gives up after
	// CloseTimeout and Shutdown still returns.
	if code := readClose(t, c); code != StatusServiceRestart {
		t.Fatalf("close %d, want 1012", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := ws.Dial(context.Background(), url); err == nil {
		t.Fatal("dial after Shutdown succeeded")
	}
}

func masked(f ws.Frame) []byte {
	var b bytes.Buffer
	ws.WriteFrame(&b, ws.MaskFrame(f))
	return b.Bytes()
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
