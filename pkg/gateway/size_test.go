package gateway

import (
	"testing"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestConnSize keeps Conn within the 192-byte allocation class: every idle
// connection pays for each byte of it (docs/architecture.md, issue 16).
// The write state (output.go) and the kept input (input.go) are behind
// pointers for that. A field that pushes it past needs a reason, and the
// docs a new figure: the next class is 208 bytes.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 192 {
		t.Errorf("Conn is %d bytes, over the 192-byte size class", n)
	}
	// A Conn with its ident (conn_alloc.go) fills a class of its own.
	if n := unsafe.Sizeof(connWith[[32]byte]{}); n != 224 {
		t.Errorf("a Conn with 32 bytes of ident is %d bytes, not the 224-byte class", n)
	}
	if n := unsafe.Sizeof(connWith[[48]byte]{}); n != 240 {
		t.Errorf("a Conn with 48 bytes of ident is %d bytes, not the 240-byte class", n)
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
		{"", "", "10.0.0.1:1", ""},
		{"web-7-1234567-", "1234567", "127.0.0.1:5", "web-7-1234567-1234567"},                                   // 32 bytes: in a connWith's room
		{"web-7-1234567-", "12345678", "127.0.0.1:5", "web-7-1234567-12345678"},                                 // 33: the larger room
		{"web-frontend-3-1234567-", "123456789012", "[2001:db8::1]:443", "web-frontend-3-1234567-123456789012"}, // 52: apart
	} {
		var c Conn
		c.setIdent(tc.prefix, []byte(tc.suffix), tc.remote)
		if c.ID() != tc.id || c.RemoteAddr() != tc.remote {
			t.Errorf("setIdent(%q, %q, %q): id %q, remote %q", tc.prefix, tc.suffix, tc.remote, c.ID(), c.RemoteAddr())
		}
		a := allocConn(tc.prefix, []byte(tc.suffix), tc.remote)
		if a.ID() != tc.id || a.RemoteAddr() != tc.remote {
			t.Errorf("allocConn(%q, %q, %q): id %q, remote %q", tc.prefix, tc.suffix, tc.remote, a.ID(), a.RemoteAddr())
		}
	}
	// A remote address too long for remoteLen is cut, never misread.
	var c Conn
	long := string(make([]byte, maxRemoteLen+10))
	c.setIdent("x-", []byte("1"), long)
	if c.ID() != "x-1" || len(c.RemoteAddr()) != maxRemoteLen {
		t.Errorf("a %d-byte remote: id %q, remote of %d bytes", len(long), c.ID(), len(c.RemoteAddr()))
	}
	if a := allocConn("x-", []byte("1"), long); a.ID() != "x-1" || len(a.RemoteAddr()) != maxRemoteLen {
		t.Errorf("allocConn, a %d-byte remote: id %q, remote of %d bytes", len(long), a.ID(), len(a.RemoteAddr()))
	}
}

// TestIdleConnHoldsNoWriteState: once what was queued is written, on
// either engine, the connection keeps no write state (output.go), whether
// the queue held one frame or several; and what was queued arrives whole
// and in order.
func TestIdleConnHoldsNoWriteState(t *testing.T) {
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			c, sc, _ := dialEngine(t, engine, Options{PingInterval: -1})
			want := []string{"one"}
			if err := sc.Send(ws.OpText, []byte("one")); err != nil {
				t.Fatal(err)
			}
			// Several frames queued at once, under the lock: a queue on
			// the heap.
			sc.mu.Lock()
			for _, m := range []string{"two", "three", "four"} {
				sc.appendLocked(compile(ws.OpText, []byte(m)))
				want = append(want, m)
			}
			sc.mu.Unlock()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			for _, m := range want {
				data, _, err := wsutil.ReadServerData(c)
				if err != nil || string(data) != m {
					t.Fatalf("read %q, %v; want %q", data, err, m)
				}
			}
			waitFor(t, func() bool {
				sc.mu.Lock()
				defer sc.mu.Unlock()
				return sc.out == nil
			})
			if q := queuedOf(sc); q != 0 {
				t.Fatalf("%d bytes still counted as queued", q)
			}
		})
	}
}
