//go:build linux

package gateway

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// TestAcceptedSocketsInheritOptions: the accept loop sets no option on the
// sockets it accepts; they inherit from the listener what Go sets on each
// (TCP_NODELAY, keep-alive every 15 s, 9 probes). The peer's address is
// read from accept4's own.
func TestAcceptedSocketsInheritOptions(t *testing.T) {
	s, url := startServer(t, Options{PingInterval: -1}, &echo{})
	nc := dial(t, url)
	var fd int
	waitFor(t, func() bool {
		cs := s.snapshot()
		if len(cs) == 1 && cs[0].fd >= 0 {
			fd = int(cs[0].fd)
			if got, want := cs[0].RemoteAddr(), nc.LocalAddr().String(); got != want {
				t.Errorf("RemoteAddr %q, want the client's %q", got, want)
			}
			return true
		}
		return false
	})
	checkSocketOptions(t, fd)
}

// TestTCPKeepAliveOption: Options.TCPKeepAlive sets the keep-alive probes'
// idle time and interval, or turns them off, on the sockets of both accept
// paths: the raw one (inherited from the listener) and net.Listener's
// (set on each connection after Accept).
func TestTCPKeepAliveOption(t *testing.T) {
	for _, tc := range []struct {
		name string
		ka   time.Duration
		want int // seconds; 0: SO_KEEPALIVE off
	}{
		{"off", -1, 0},
		{"40s", 40 * time.Second, 40},
	} {
		for _, path := range []string{"raw", "net.Listener"} {
			t.Run(tc.name+"/"+path, func(t *testing.T) {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				if path == "net.Listener" {
					ln = netListener{ln}
				}
				s, url := startServerOn(t, ln, Options{PingInterval: -1, TCPKeepAlive: tc.ka}, &echo{})
				dial(t, url)
				var fd int
				waitFor(t, func() bool {
					cs := s.snapshot()
					if len(cs) == 1 && cs[0].fd >= 0 {
						fd = int(cs[0].fd)
						return true
					}
					return false
				})
				checkKeepAlive(t, fd, tc.want)
			})
		}
	}
}

// checkSocketOptions checks that fd has the options Go sets on the sockets
// it accepts.
func checkSocketOptions(t *testing.T, fd int) {
	t.Helper()
	checkKeepAlive(t, fd, 15)
}

// checkKeepAlive checks that fd has TCP_NODELAY and keep-alive probes
// every secs seconds, 9 of them (secs 0: no probes).
func checkKeepAlive(t *testing.T, fd, secs int) {
	t.Helper()
	type opt struct {
		name       string
		level, opt int
		want       int
	}
	opts := []opt{
		{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, min(secs, 1)},
	}
	if secs > 0 {
		opts = append(opts,
			opt{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs},
			opt{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs},
			opt{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9})
	}
	for _, o := range opts {
		got, err := unix.GetsockoptInt(fd, o.level, o.opt)
		if err != nil || got != o.want {
			t.Errorf("%s = %d (%v), want %d", o.name, got, err, o.want)
		}
	}
}

// TestSocketsQueuedBeforeServeGetOptions: sockets established before Serve
// set the options on the listener (a worker's listener is open before its
// accept loop runs) were cloned without them; the accept loop sets them
// itself on what it finds in the backlog at first. Here two clients, one
// with its request sent and one without, wait in the backlog before Serve
// is called.
func TestSocketsQueuedBeforeServeGetOptions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	var clients []net.Conn
	for i := range 2 {
		c, err := net.Dial("tcp", ln.Addr().String()) // established: in the backlog
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() // before Shutdown, which would wait for their close frames
		if i == 0 {
			io.WriteString(c, req)
		}
		clients = append(clients, c)
	}
	s := New(Options{PingInterval: -1}, &echo{}, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		s.Serve(ctx, ln)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		s.Shutdown(sctx, ws.StatusGoingAway, "test over")
	})
	waitFor(t, func() bool { return s.Stats().Accepted == 2 })
	io.WriteString(clients[1], req)
	for _, c := range clients {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, resp, http.StatusSwitchingProtocols)
	}
	waitFor(t, func() bool { return s.Len() == 2 })
	for _, c := range s.snapshot() {
		checkSocketOptions(t, int(c.fd))
	}
}

// TestStopAcceptingClosesTheSocket: the accept loop waits on a duplicate
// of the listening socket; StopAccepting must close both, so that the
// socket stops listening (new clients are refused by the kernel, and with
// SO_REUSEPORT go to the other workers) and Serve returns.
func TestStopAcceptingClosesTheSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{PingInterval: -1}, &echo{}, slog.New(slog.DiscardHandler))
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Shutdown(ctx, ws.StatusGoingAway, "test over")
	})
	url := "ws://" + ln.Addr().String() + "/"
	dial(t, url)
	s.StopAccepting()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after StopAccepting")
	}
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err == nil {
		c.Close()
		t.Fatal("the socket still listens after StopAccepting")
	}
}

// TestRequestInPieces: a request that is not complete when the socket is
// accepted (here its head comes in three writes, the first alone) waits in
// a poller with the bytes read so far, and is upgraded there.
func TestRequestInPieces(t *testing.T) {
	s, url := startServer(t, Options{PingInterval: -1}, &echo{})
	c, err := net.Dial("tcp", addrOf(url))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	for i, part := range []string{req[:3], req[3:40], req[40:]} {
		if _, err := c.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// The server accepted the socket with only this piece sent.
			waitFor(t, func() bool { return s.Stats().Accepted == 1 })
		}
	}
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:12]); got != "HTTP/1.1 101" {
		t.Fatalf("answer %q, want 101", buf[:n])
	}
	waitFor(t, func() bool { return s.Len() == 1 })
}

// TestPageOutOfFilesAnswers503: a page request is served through a
// net.Conn, which takes duplicates of the socket; with the socket
// accepted on the last free descriptor, the duplicate fails, and the
// client gets the door's 503 on the socket itself instead of a silent
// close.
func TestPageOutOfFilesAnswers503(t *testing.T) {
	s, url := startServer(t, Options{PingInterval: -1}, &echo{})
	dial(t, url) // the engine runs: its descriptors are taken
	waitFor(t, func() bool { return s.Len() == 1 })
	fill := exhaustFiles(t)
	// Two free slots: the client's socket and the server's, none for a
	// duplicate.
	for range 2 {
		fill[len(fill)-1].Close()
		fill = fill[:len(fill)-1]
	}
	nc, err := net.DialTimeout("tcp", addrOf(url), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, resp, http.StatusServiceUnavailable)
	if r := s.Stats().Refused; r.Files != 1 || r.Total() != 1 {
		t.Fatalf("refused %+v, want one files", r)
	}
}

// TestPendingHandshakesHoldNoGoroutine: sockets whose request has not
// come wait in a poller's epoll set, not each on a goroutine; their
// requests are served when they come.
func TestPendingHandshakesHoldNoGoroutine(t *testing.T) {
	const n = 200
	s, url := startServer(t, Options{PingInterval: -1, MaxHandshakesPerIP: 2 * n}, &echo{})
	dial(t, url) // the engine runs
	waitFor(t, func() bool { return s.Len() == 1 })
	base := runtime.NumGoroutine()
	var cs []net.Conn
	for i := range n {
		c, err := net.Dial("tcp", addrOf(url))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if i%2 == 0 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // half a head
		}
		cs = append(cs, c)
	}
	waitFor(t, func() bool { return pendingIn(s) == n })
	if g := runtime.NumGoroutine(); g > base+10 {
		t.Fatalf("%d goroutines with %d handshakes pending, %d before", g, n, base)
	}
	for i, c := range cs {
		req := "GET / HTTP/1.1\r\nHost: x\r\n"
		if i%2 == 0 {
			req = ""
		}
		io.WriteString(c, req+"Upgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	}
	for _, c := range cs {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, resp, http.StatusSwitchingProtocols)
	}
	waitFor(t, func() bool { return s.Len() == n+1 && pendingIn(s) == 0 })
}

// pendingIn counts the handshakes the pollers of s hold.
func pendingIn(s *Server) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	if s.eng != nil {
		for _, p := range s.eng.pollers {
			n += int(p.npend.Load())
		}
	}
	return n
}

// BenchmarkSetSocketOptions is what setting the options on each accepted
// socket would cost, rather than having them inherited from the listener:
// five setsockopt calls on a connected TCP socket.
func BenchmarkSetSocketOptions(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	sc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	sc.Control(func(fd uintptr) {
		for range b.N {
			if err := setSocketOptions(int(fd), 15*time.Second); err != nil {
				b.Fatal(err)
			}
		}
	})
}
