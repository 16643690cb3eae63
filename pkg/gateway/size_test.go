package gateway

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps Conn within the 256-byte allocation class: every idle
// connection pays for each byte of it (docs/architecture.md, issue 16). A
// field that pushes it past needs a reason, and the docs a new figure: the
// next class is 288 bytes.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 256 {
		t.Errorf("Conn is %d bytes, over the 256-byte size class", n)
	}
}

// TestConnIdent checks that the id and the remote address, kept in one
// allocation, read back as they were given, also when either is empty.
func TestConnIdent(t *testing.T) {
	for _, tc := range []struct{ prefix, suffix, remote, id string }{
		{"n1-42-", "7", "127.0.0.1:5000", "n1-42-7"},
		{"n1-42-", "18446744073709551615", "[2001:db8::1]:443", "n1-42-18446744073709551615"},
		{"moved-1", "", "10.0.0.1", "moved-1"},
		{"n1-42-", "8", "", "n1-42-8"},
	} {
		var c Conn
		c.setIdent(tc.prefix, []byte(tc.suffix), tc.remote)
		if c.ID() != tc.id || c.RemoteAddr() != tc.remote {
			t.Errorf("setIdent(%q, %q, %q): id %q, remote %q", tc.prefix, tc.suffix, tc.remote, c.ID(), c.RemoteAddr())
		}
	}
	// A remote address too long for remoteLen is cut, never misread.
	var c Conn
	long := string(make([]byte, maxRemoteLen+10))
	c.setIdent("x-", []byte("1"), long)
	if c.ID() != "x-1" || len(c.RemoteAddr()) != maxRemoteLen {
		t.Errorf("a %d-byte remote: id %q, remote of %d bytes", len(long), c.ID(), len(c.RemoteAddr()))
	}
}
