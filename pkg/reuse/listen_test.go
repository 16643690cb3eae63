package reuse

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestListenNSharesPort(t *testing.T) {
	lns, err := ListenN(context.Background(), "127.0.0.1:0", 3)
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(lns)
	for _, ln := range lns[1:] {
		if ln.Addr().String() != lns[0].Addr().String() {
			t.Fatalf("listener on %s, want %s", ln.Addr(), lns[0].Addr())
		}
	}
	if err := CheckFree(lns[0].Addr().String()); !errors.Is(err, ErrAddrInUse) {
		t.Fatalf("CheckFree on a bound port = %v, want ErrAddrInUse", err)
	}
}

func TestCheckFreeOnFreePort(t *testing.T) {
	ln, err := Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := CheckFree(addr); err != nil {
		t.Fatalf("CheckFree(%s) after close = %v", addr, err)
	}
}

func TestFileRoundTripKeepsAccepting(t *testing.T) {
	ln, err := Listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := File(ln)
	if err != nil {
		t.Fatal(err)
	}
	ln2, err := FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	// Closing the copy must leave the original socket listening.
	ln2.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Close()
		}
		done <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Fatalf("accept on the original after closing the copy: %v", err)
	}
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// TestBindThenActivate: a bound socket gets no connection until it is
// activated; then it accepts like any listener.
func TestBindThenActivate(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		first, err := Listen(context.Background(), addr)
		if err != nil {
			t.Fatal(err)
		}
		at := first.Addr().String()
		first.Close() // only the bound socket is left on the port
		ln, err := Bind(at)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := net.Dial("tcp", at); err == nil {
			c.Close()
			t.Fatalf("%s: a bound socket took a connection before Activate", addr)
		}
		if err := Activate(ln); err != nil {
			t.Fatal(err)
		}
		c, err := net.Dial("tcp", at)
		if err != nil {
			t.Fatalf("%s: after Activate: %v", addr, err)
		}
		a, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		a.Close()
		c.Close()
		if err := Activate(ln); err != nil {
			t.Errorf("Activate on a listening socket: %v", err)
		}
		ln.Close()
	}
}

// TestHoldKeepsTheSocketOutOfThePoller: a held socket keeps listening
// (a listener made from its File accepts), its own Accept fails, and
// closing it leaves the other copy working; the master holds its slots'
// sockets so, and its threads no longer wake for every connection.
func TestHoldKeepsTheSocketOutOfThePoller(t *testing.T) {
	lns, err := ListenN(context.Background(), "127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Hold(lns[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Accept(); !errors.Is(err, ErrHeld) {
		t.Fatalf("Accept on a held socket: %v, want ErrHeld", err)
	}
	f, err := File(h)
	if err != nil {
		t.Fatal(err)
	}
	worker, err := FromFile(f)
	if err != nil {
		t.Fatal(err)
	}
	defer worker.Close()
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := File(h); err == nil {
		t.Fatal("File of a closed held socket worked")
	}
	c, err := net.Dial("tcp", h.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := worker.Accept()
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
}

// TestHeldSocketIsWatchedByNoEpoll: the point of Hold. A listener's socket
// is in the netpoller's epoll set (its fdinfo lists it); the held copy's
// descriptor is in no epoll set of this process.
func TestHeldSocketIsWatchedByNoEpoll(t *testing.T) {
	lns, err := ListenN(context.Background(), "127.0.0.1:0", 1)
	if err != nil {
		t.Fatal(err)
	}
	var lfd int
	raw, _ := lns[0].(syscall.Conn).SyscallConn()
	raw.Control(func(fd uintptr) { lfd = int(fd) })
	if !watched(t, lfd) {
		t.Fatalf("the listener's descriptor %d is in no epoll set: the check cannot tell", lfd)
	}
	h, err := Hold(lns[0])
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	hfd := h.(*held).fd
	if watched(t, hfd) {
		t.Fatalf("the held descriptor %d is in an epoll set", hfd)
	}
}

// watched reports whether fd is in an epoll set of this process, from the
// "tfd:" lines of every epoll descriptor's /proc/self/fdinfo.
func watched(t *testing.T, fd int) bool {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, err := os.Readlink("/proc/self/fd/" + e.Name())
		if err != nil || target != "anon_inode:[eventpoll]" {
			continue
		}
		info, err := os.ReadFile("/proc/self/fdinfo/" + e.Name())
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[0] == "tfd:" && f[1] == strconv.Itoa(fd) {
				return true
			}
		}
	}
	return false
}
