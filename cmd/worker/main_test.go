package main

import (
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// TestOrOff: the command line's 0 ("never") reaches the gateway as its
// negative "disabled", not as 0, which the gateway reads as its default.
func TestOrOff(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, -1},
		{25 * time.Second, 25 * time.Second},
		{time.Millisecond, time.Millisecond},
	} {
		if got := orOff(c.in); got != c.want {
			t.Errorf("orOff(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestReadAuth: the credentials arrive whole on the inherited pipe, which
// is closed after; garbage and oversized input are refused.
func TestReadAuth(t *testing.T) {
	pipe := func(data string) int {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.WriteString(data); w.Close() }()
		fd, err := syscall.Dup(int(r.Fd()))
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		return fd
	}
	fd := pipe(`{"user":"wsfleet","password":"s3cret"}`)
	a, err := readAuth(fd)
	if err != nil || a.User != "wsfleet" || a.Password != "s3cret" {
		t.Fatalf("got %+v, %v", a, err)
	}
	if err := syscall.Close(fd); err == nil {
		t.Error("the pipe was left open")
	}
	if _, err := readAuth(pipe("not json")); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := readAuth(pipe(`{"password":"` + strings.Repeat("x", maxAuth) + `"}`)); err == nil {
		t.Error("oversized credentials accepted")
	}
	if a, err := readAuth(-1); err != nil || a != (bus.Auth{}) {
		t.Errorf("no fd: %+v, %v", a, err)
	}
}

// TestSetMemoryLimit: -memory-limit becomes the runtime's limit unless the
// environment's GOMEMLIMIT is set (the runtime applied that one already);
// 0 leaves the limit alone.
func TestSetMemoryLimit(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })

	t.Setenv("GOMEMLIMIT", "")
	setMemoryLimit(300<<20, log)
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Fatalf("limit %d, want 300 MiB", got)
	}
	setMemoryLimit(0, log)
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Fatalf("0 changed the limit to %d", got)
	}
	debug.SetMemoryLimit(orig)
	t.Setenv("GOMEMLIMIT", "1GiB")
	setMemoryLimit(300<<20, log)
	if got := debug.SetMemoryLimit(-1); got != orig {
		t.Fatalf("with GOMEMLIMIT set the flag changed the limit to %d", got)
	}
}
