package gateway

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// dialFrom connects to addr from a local loopback address, so one test
// plays several clients.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return nc
}

// upgradeStatus sends an upgrade request (with extra header lines) on nc
// and returns the answer's status; nc stays open on a 101.
func upgradeStatus(t *testing.T, nc net.Conn, extra string) *http.Response {
	t.Helper()
	if _, err := io.WriteString(nc, upgradeRequest(extra)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func addrOf(url string) string { return strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/") }

func wantStatus(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	if status != http.StatusSwitchingProtocols && !resp.Close {
		t.Fatalf("a %d without Connection: close", status)
	}
}

func TestMaxConns(t *testing.T) {
	s, url := startServer(t, Options{MaxConns: 2}, &echo{})
	addr := addrOf(url)
	a := dialFrom(t, "127.0.0.2", addr)
	wantStatus(t, upgradeStatus(t, a, ""), http.StatusSwitchingProtocols)
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.3", addr), ""), http.StatusSwitchingProtocols)
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.4", addr), ""), http.StatusServiceUnavailable)
	a.Close()
	waitFor(t, func() bool { return s.Len() == 1 })
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.4", addr), ""), http.StatusSwitchingProtocols)
	if r := s.Stats().Refused; r.MaxConns != 1 || r.Total() != 1 {
		t.Fatalf("refused %+v, want one max_conns", r)
	}
}

func TestMaxConnsPerIP(t *testing.T) {
	s, url := startServer(t, Options{MaxConnsPerIP: 2}, &echo{})
	addr := addrOf(url)
	var first net.Conn
	for i := range 2 {
		nc := dialFrom(t, "127.0.0.2", addr)
		wantStatus(t, upgradeStatus(t, nc, ""), http.StatusSwitchingProtocols)
		if i == 0 {
			first = nc
		}
	}
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.2", addr), ""), http.StatusTooManyRequests)
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.3", addr), ""), http.StatusSwitchingProtocols)
	first.Close()
	waitFor(t, func() bool { return s.Len() == 2 })
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.2", addr), ""), http.StatusSwitchingProtocols)
	if r := s.Stats().Refused; r.PerIP != 1 || r.Total() != 1 {
		t.Fatalf("refused %+v, want one per_ip", r)
	}
}

// TestMaxConnsPerIPBehindProxy: behind a trusted proxy the limit counts
// the client named by X-Forwarded-For; forged entries left of it change
// nothing, and an untrusted peer's header is ignored.
func TestMaxConnsPerIPBehindProxy(t *testing.T) {
	s, url := startServer(t, Options{MaxConnsPerIP: 1,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}, &echo{})
	addr := addrOf(url)
	proxy := func(xff string) *http.Response {
		return upgradeStatus(t, dialFrom(t, "127.0.0.1", addr), "X-Forwarded-For: "+xff+"\r\n")
	}
	wantStatus(t, proxy("203.0.113.1"), http.StatusSwitchingProtocols)
	wantStatus(t, proxy("6.6.6.6, 203.0.113.1"), http.StatusTooManyRequests)
	wantStatus(t, proxy("203.0.113.2"), http.StatusSwitchingProtocols)
	// Not a proxy: counted under its own address, whatever it claims.
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.5", addr), "X-Forwarded-For: 203.0.113.3\r\n"), http.StatusSwitchingProtocols)
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.5", addr), "X-Forwarded-For: 203.0.113.4\r\n"), http.StatusTooManyRequests)
	// A connection is registered after its 101 is written: wait for the
	// three, then check.
	remotes := map[string]bool{}
	waitFor(t, func() bool {
		clear(remotes)
		for _, ci := range s.Conns() {
			remotes[strings.Split(ci.Remote, ":")[0]] = true
		}
		return len(remotes) >= 3
	})
	for _, want := range []string{"203.0.113.1", "203.0.113.2", "127.0.0.5"} {
		if !remotes[want] {
			t.Errorf("no connection from %s in %v", want, remotes)
		}
	}
}

// TestHandshakesPerIP: slow handshakes from one peer take its share of
// handshakes in progress and no more; the next is refused at once, and
// other peers upgrade as usual.
func TestHandshakesPerIP(t *testing.T) {
	s, url := startServer(t, Options{MaxHandshakesPerIP: 4, HandshakeTimeout: time.Minute}, &echo{})
	addr := addrOf(url)
	for range 4 {
		io.WriteString(dialFrom(t, "127.0.0.2", addr), "GET / HTTP/1.1\r\nHost: x\r\n")
	}
	waitFor(t, func() bool {
		s.door.mu.Lock()
		defer s.door.mu.Unlock()
		return s.door.pending[netip.MustParseAddr("127.0.0.2")] == 4
	})
	nc := dialFrom(t, "127.0.0.2", addr)
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil) // refused before it says anything
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, resp, http.StatusTooManyRequests)
	wantStatus(t, upgradeStatus(t, dialFrom(t, "127.0.0.3", addr), ""), http.StatusSwitchingProtocols)
	if r := s.Stats().Refused; r.Handshakes != 1 {
		t.Fatalf("refused %+v, want one handshakes", r)
	}
}

// TestBadHeadsAnswered: what is not a request we serve gets its HTTP error
// long before the handshake timeout.
func TestBadHeadsAnswered(t *testing.T) {
	s, url := startServer(t, Options{HandshakeTimeout: time.Minute}, &echo{})
	n := 0
	for _, tc := range headCases {
		if tc.status == 0 || tc.name == "cut short" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			nc := dialFrom(t, "127.0.0.2", addrOf(url))
			io.WriteString(nc, tc.in) // the server may answer and close before all is written
			resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, resp, tc.status)
		})
		n++
	}
	if r := s.Stats().Refused; r.BadRequest != uint64(n) {
		t.Fatalf("refused %+v, want %d bad_request", r, n)
	}
}

// TestBadUpgradeCounted: an upgrade the upgrader refuses (no
// Sec-WebSocket-Key) is answered 400 and counted with the bad requests.
func TestBadUpgradeCounted(t *testing.T) {
	s, url := startServer(t, Options{}, &echo{})
	nc := dialFrom(t, "127.0.0.2", addrOf(url))
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", resp.StatusCode)
	}
	// The refusal is counted after its answer is written: wait for it.
	waitFor(t, func() bool { return s.Stats().Refused.BadRequest == 1 })
	if r := s.Stats().Refused; r.BadRequest != 1 || r.Total() != 1 {
		t.Fatalf("refused %+v, want one bad_request", r)
	}
}

func TestHandshakeTimeoutAnswers408(t *testing.T) {
	s, url := startServer(t, Options{HandshakeTimeout: 200 * time.Millisecond}, &echo{})
	nc := dialFrom(t, "127.0.0.2", addrOf(url))
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, resp, http.StatusRequestTimeout)
	if r := s.Stats().Refused; r.Timeouts != 1 {
		t.Fatalf("refused %+v, want one timeout", r)
	}
}

func TestRateLog(t *testing.T) {
	var l rateLog
	t0 := time.Unix(1000, 0)
	steps := []struct {
		at         time.Duration
		ok         bool
		suppressed int
	}{
		{0, true, 0}, {100 * time.Millisecond, false, 0}, {900 * time.Millisecond, false, 0},
		{time.Second, true, 2}, {1500 * time.Millisecond, false, 0}, {5 * time.Second, true, 1},
	}
	for _, st := range steps {
		n, ok := l.allow(t0.Add(st.at))
		if ok != st.ok || n != st.suppressed {
			t.Fatalf("at %s: allow = %d, %v; want %d, %v", st.at, n, ok, st.suppressed, st.ok)
		}
	}
}

// TestRefusalsAdd: the sum over workers adds every reason.
func TestRefusalsAdd(t *testing.T) {
	var r Refusals
	one := Refusals{1, 2, 3, 4, 5, 6}
	r.Add(one)
	r.Add(one)
	if r != (Refusals{2, 4, 6, 8, 10, 12}) || r.Total() != 42 {
		t.Fatalf("sum %+v total %d", r, r.Total())
	}
}

// TestTLSRefusalBeforeHandshake: on a wss:// server, a peer over its
// handshakes in progress is closed without a plain-text answer its TLS
// stack could not read.
func TestTLSRefusalBeforeHandshake(t *testing.T) {
	cert, _ := selfSigned(t)
	s, url := startServer(t, Options{MaxHandshakesPerIP: 1, HandshakeTimeout: time.Minute,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}}, &echo{})
	addr := addrOf(url)
	dialFrom(t, "127.0.0.2", addr) // holds the one handshake, saying nothing
	waitFor(t, func() bool {
		s.door.mu.Lock()
		defer s.door.mu.Unlock()
		return s.door.pending[netip.MustParseAddr("127.0.0.2")] == 1
	})
	nc := dialFrom(t, "127.0.0.2", addr)
	if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
		t.Fatalf("read %q, %v; want a close without bytes", b, err)
	}
	if r := s.Stats().Refused; r.Handshakes != 1 {
		t.Fatalf("refused %+v, want one handshakes", r)
	}
}
