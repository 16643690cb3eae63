//go:build linux

package gateway

import (
	"context"
	"log/slog"
	"net"
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
	for _, o := range []struct {
		name       string
		level, opt int
		want       int
	}{
		{"TCP_NODELAY", unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{"SO_KEEPALIVE", unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{"TCP_KEEPIDLE", unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
		{"TCP_KEEPINTVL", unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
		{"TCP_KEEPCNT", unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
	} {
		got, err := unix.GetsockoptInt(fd, o.level, o.opt)
		if err != nil || got != o.want {
			t.Errorf("%s = %d (%v), want %d", o.name, got, err, o.want)
		}
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
// accepted (here its head comes in three writes, the first alone) leaves the accept loop for
// the goroutine path with the bytes read so far, and is upgraded there.
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
