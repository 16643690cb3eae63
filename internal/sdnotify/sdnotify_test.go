package sdnotify

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen is a unixgram socket standing in for systemd's.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func read(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestNotifyPathAndAbstract(t *testing.T) {
	for _, name := range []string{filepath.Join(t.TempDir(), "notify"), "@wsfleet-sdnotify-test-" + strconv.Itoa(time.Now().Nanosecond())} {
		c := listen(t, name)
		n := New(name)
		if err := n.Notify(Ready); err != nil {
			t.Fatal(err)
		}
		if got := read(t, c); got != Ready {
			t.Errorf("%s: got %q, want %q", name, got, Ready)
		}
	}
}

func TestNilNotifierDoesNothing(t *testing.T) {
	var n *Notifier = New("")
	if n != nil {
		t.Fatal("New(\"\") is not nil")
	}
	if err := n.Notify(Ready); err != nil {
		t.Fatal(err)
	}
}

func TestNotifyNoListener(t *testing.T) {
	if err := New(filepath.Join(t.TempDir(), "none")).Notify(Ready); err == nil || !strings.Contains(err.Error(), Env) {
		t.Fatalf("err = %v, want one naming %s", err, Env)
	}
}

func TestReloadingState(t *testing.T) {
	before, _ := MonotonicUsec()
	s, err := ReloadingState()
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(s, "\n")
	us, err := strconv.ParseInt(strings.TrimPrefix(rest, "MONOTONIC_USEC="), 10, 64)
	if first != Reloading || err != nil || us < before {
		t.Fatalf("%q: want RELOADING=1 and MONOTONIC_USEC >= %d", s, before)
	}
}

func TestStatusOneLine(t *testing.T) {
	if _, err := Status("a\nb"); err == nil {
		t.Error("a two-line STATUS was accepted")
	}
	if s, _ := Status("4 workers"); s != "STATUS=4 workers" {
		t.Errorf("got %q", s)
	}
}

func TestWithoutSocket(t *testing.T) {
	got := WithoutSocket([]string{"A=1", "NOTIFY_SOCKET=/run/x", "NOTIFY_SOCKETS=keep", "B=2"})
	if want := []string{"A=1", "NOTIFY_SOCKETS=keep", "B=2"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
