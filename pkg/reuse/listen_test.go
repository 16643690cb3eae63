package reuse

import (
	"context"
	"errors"
	"net"
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
