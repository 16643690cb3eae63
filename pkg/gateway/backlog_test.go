package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"
)

// The write side under clients that do not read (issue 10): pongs fold,
// a backlogged connection is not read, one large message goes out.

// engines are the two connection engines a test runs on.
var engines = []string{"epoll", "tls"}

// dialEngine starts a server with opts and h (an *opener's embedding) on
// engine and returns the client's socket and the server's Conn.
func dialEngine(t *testing.T, engine string, opts Options) (net.Conn, *Conn, *Server) {
	t.Helper()
	o := &opener{conns: make(chan *Conn, 1)}
	d := ws.Dialer{}
	if engine == "tls" {
		cert, pool := selfSigned(t)
		opts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		d.TLSConfig = &tls.Config{RootCAs: pool}
	}
	s, url := startServer(t, opts, o)
	if engine == "tls" {
		url = strings.Replace(url, "ws://", "wss://", 1)
	}
	c, _, _, err := d.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sc := <-o.conns
	if _, polled := sc.tr.(*poller); (engine == "epoll") != polled {
		t.Fatalf("connection on the wrong engine (transport %T)", sc.tr)
	}
	return c, sc, s
}

// queuedOf reads c's queue length.
func queuedOf(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queuedLocked()
}

// readPaused reports whether the server stopped reading c.
func readPaused(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g, ok := c.tr.(*netConn); ok {
		return g.wantRoom
	}
	return c.added && c.state != connCloseDone && c.events&unix.EPOLLIN == 0
}

// waitUntil polls cond every millisecond for up to 20 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
	}
}

// TestPingFloodQueuesOnePong: a client sends 40k pings without reading.
// The server reads them all, holds at most pongFoldAt and one pong of
// output, and answers the latest ping last; the pongs it did send answer
// pings in order.
func TestPingFloodQueuesOnePong(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			c, sc, _ := dialEngine(t, engine, Options{PingInterval: -1, WriteTimeout: time.Minute})
			const n, batch = 40000, 500
			var total uint64
			errc := make(chan error, 1)
			go func() {
				var buf bytes.Buffer
				for i := 0; i < n; i++ {
					p := make([]byte, 125) // the largest control payload
					binary.BigEndian.PutUint64(p, uint64(i))
					ws.WriteFrame(&buf, ws.MaskFrame(ws.NewPingFrame(p)))
					if (i+1)%batch == 0 {
						if _, err := c.Write(buf.Bytes()); err != nil {
							errc <- err
							return
						}
						buf.Reset()
					}
				}
				errc <- nil
			}()
			total = n * (2 + 4 + 125)
			maxQueued := 0
			waitUntil(t, "server reads every ping", func() bool {
				maxQueued = max(maxQueued, queuedOf(sc))
				return sc.bytesIn.Load() == total
			})
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if bound := pongFoldAt + 2*127; maxQueued > bound || queuedOf(sc) > bound {
				t.Fatalf("queued %d (at most %d seen), want at most %d", queuedOf(sc), maxQueued, bound)
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			last, pongs := int64(-1), 0
			for last != n-1 {
				f, err := ws.ReadFrame(c)
				if err != nil {
					t.Fatalf("after %d pongs (last %d): %v", pongs, last, err)
				}
				if f.Header.OpCode != ws.OpPong || len(f.Payload) != 125 {
					t.Fatalf("got opcode %d with %d bytes, want a pong of 125", f.Header.OpCode, len(f.Payload))
				}
				i := int64(binary.BigEndian.Uint64(f.Payload))
				if i <= last {
					t.Fatalf("pong for ping %d after pong for %d", i, last)
				}
				last = i
				pongs++
			}
			t.Logf("%d pings, %d pongs, at most %d bytes queued", n, pongs, maxQueued)
		})
	}
}

// TestBackloggedConnectionIsNotRead: a client sends 1,000 echo requests of
// 16 KiB and reads nothing. The server stops reading it once more than the
// send buffer is queued (its requests wait in the kernel), never queues
// much beyond it, and does not close it: once the client reads, every
// echo arrives, in order.
func TestBackloggedConnectionIsNotRead(t *testing.T) {
	const sendBuffer, n, size = 256 << 10, 1000, 16 << 10
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			c, sc, s := dialEngine(t, engine, Options{PingInterval: -1, SendBuffer: sendBuffer, WriteTimeout: time.Minute})
			errc := make(chan error, 1)
			go func() {
				for i := range n {
					if err := wsutil.WriteClientBinary(c, request(i, size)); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			maxQueued := 0
			waitUntil(t, "reading paused", func() bool {
				maxQueued = max(maxQueued, queuedOf(sc))
				return readPaused(sc)
			})
			// Reading pauses past half the buffer; one read adds at most a
			// poller's buffer of requests and a message straddling it.
			bound := sendBuffer/2 + pollBufferSize + 2*(size+16)
			if q := queuedOf(sc); q > bound || maxQueued > bound {
				t.Fatalf("queued %d (at most %d seen) while paused, want at most %d", q, maxQueued, bound)
			}
			if in := sc.bytesIn.Load(); in >= n*size {
				t.Fatalf("the server read all %d bytes though the client reads nothing", in)
			}
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			for i := range n {
				data, _, err := wsutil.ReadServerData(c)
				if err != nil {
					t.Fatalf("echo %d: %v", i, err)
				}
				if !bytes.Equal(data, request(i, size)) {
					t.Fatalf("echo %d differs", i)
				}
				maxQueued = max(maxQueued, queuedOf(sc))
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if maxQueued > bound {
				t.Fatalf("at most %d queued, want at most %d", maxQueued, bound)
			}
			if s.Len() != 1 || s.sendFailures.Load() != 0 {
				t.Fatalf("%d connections, %d send failures: the client was closed", s.Len(), s.sendFailures.Load())
			}
		})
	}
}

// request is request i of an echo test: its number, then filler.
func request(i, size int) []byte {
	b := bytes.Repeat([]byte{byte(i)}, size)
	binary.BigEndian.PutUint32(b, uint32(i))
	return b
}

// TestLargeMessagesWithDefaults: with the default options (1 MiB send
// buffer, 10 MiB messages) three 10 MiB messages sent back to back are
// echoed whole; the client is not closed (issue 10: it was, with 1008).
func TestLargeMessagesWithDefaults(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			c, _, s := dialEngine(t, engine, Options{PingInterval: -1})
			n, size := 3, 10<<20
			if engine == "tls" {
				n = 1 // crypto/tls under -race takes about 15 s a message
			}
			errc := make(chan error, 1)
			go func() {
				for i := range n {
					if err := wsutil.WriteClientBinary(c, request(i, size)); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			c.SetReadDeadline(time.Now().Add(60 * time.Second))
			for i := range n {
				data, _, err := wsutil.ReadServerData(c)
				if err != nil {
					t.Fatalf("echo %d: %v", i, err)
				}
				if !bytes.Equal(data, request(i, size)) {
					t.Fatalf("echo %d: %d bytes, not the message sent", i, len(data))
				}
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if s.sendFailures.Load() != 0 {
				t.Fatalf("%d send failures", s.sendFailures.Load())
			}
		})
	}
}

// TestSendBufferBoundsTheBacklog: a frame larger than the send buffer is
// taken onto an empty queue; behind it, frames are taken while the backlog
// (what waits behind the frame being written) stays within the send
// buffer, and the next is refused and closes the connection with 1008.
func TestSendBufferBoundsTheBacklog(t *testing.T) {
	const sendBuffer = 64 << 10
	c, sc, _ := dialEngine(t, "epoll", Options{PingInterval: -1, SendBuffer: sendBuffer})
	// Larger than what loopback's socket buffers take while the client
	// reads nothing, so it stays the frame being written.
	if err := sc.Send(ws.OpBinary, make([]byte, 32<<20)); err != nil {
		t.Fatalf("a large frame onto an empty queue: %v", err)
	}
	small := make([]byte, 1024) // 1028 bytes encoded
	accepted := 0
	var err error
	for err == nil && accepted < 1000 {
		if err = sc.Send(ws.OpBinary, small); err == nil {
			accepted++
		}
	}
	if want := sendBuffer / 1028; accepted != want || !errors.Is(err, ErrSendBufferFull) {
		t.Fatalf("%d frames taken behind the large one, then %v; want %d, then ErrSendBufferFull", accepted, err, want)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if code := readClose(t, c); code != ws.StatusPolicyViolation {
		t.Fatalf("close %d, want 1008", code)
	}
}

// TestPongFoldOnlyWhenBacklogged: below pongFoldAt every ping gets its own
// pong, even when they arrive in one read (conformance suites send ten
// pings and expect ten pongs).
func TestPongFoldOnlyWhenBacklogged(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			c, _, _ := dialEngine(t, engine, Options{PingInterval: -1})
			var buf bytes.Buffer
			for i := range 10 {
				ws.WriteFrame(&buf, ws.MaskFrame(ws.NewPingFrame([]byte(fmt.Sprint("ping ", i)))))
			}
			c.Write(buf.Bytes())
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			for i := range 10 {
				f, err := ws.ReadFrame(c)
				if err != nil || f.Header.OpCode != ws.OpPong || string(f.Payload) != fmt.Sprint("ping ", i) {
					t.Fatalf("pong %d: %v %q, %v", i, f.Header.OpCode, f.Payload, err)
				}
			}
		})
	}
}
