package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// recorder remembers the last connection's handshake details.
type recorder struct {
	echo
	got chan *Conn
}

func (r *recorder) OnOpen(c *Conn) error { r.got <- c; return nil }

func rawRequest(t *testing.T, addr, req string) (*http.Response, net.Conn) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, nc
}

func upgradeRequest(extra string) string {
	return "GET /chat?room=1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" + extra + "\r\n"
}

func TestPlainHTTPOnTheWebSocketPort(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<h1>demo</h1>") })
	_, url := startServer(t, Options{HTTP: mux}, &echo{})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	resp, _ := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "<h1>demo</h1>" {
		t.Fatalf("GET / = %d %q", resp.StatusCode, body)
	}
	resp, _ = rawRequest(t, addr, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 404 {
		t.Fatalf("GET /nope = %d", resp.StatusCode)
	}
	resp, _ = rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 32<<10)+"\r\n\r\n")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("huge head = %d", resp.StatusCode)
	}
	// The WebSocket path still works on the same port.
	c := dial(t, url)
	wsutil.WriteClientText(c, []byte("hi"))
	if data, _, err := wsutil.ReadServerData(c); err != nil || string(data) != "hi" {
		t.Fatalf("echo after HTTP: %q %v", data, err)
	}
}

func TestNoHTTPHandlerAnswers400(t *testing.T) {
	_, url := startServer(t, Options{}, &echo{})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	resp, _ := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestFrameRightAfterTheHeadIsKept(t *testing.T) {
	_, url := startServer(t, Options{}, &echo{})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	// Request and first frame in one write: the frame must not be lost.
	io.WriteString(nc, upgradeRequest("")+string(masked(ws.NewTextFrame([]byte("early")))))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	f, err := ws.ReadFrame(br)
	if err != nil || string(f.Payload) != "early" {
		t.Fatalf("echo of the early frame: %q %v", f.Payload, err)
	}
}

func TestOriginSubprotocolAndTrustedProxy(t *testing.T) {
	r := &recorder{got: make(chan *Conn, 4)}
	_, url := startServer(t, Options{
		AllowOrigins:       []string{"https://ok.example"},
		Subprotocols:       []string{"chat.v2", "chat.v1"},
		RequireSubprotocol: true,
		TrustedProxies:     []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
	}, r)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")

	resp, _ := rawRequest(t, addr, upgradeRequest("Origin: https://evil.example\r\nSec-WebSocket-Protocol: chat.v1\r\n"))
	if resp.StatusCode != 403 {
		t.Fatalf("bad origin: %d", resp.StatusCode)
	}
	resp, _ = rawRequest(t, addr, upgradeRequest("Sec-WebSocket-Protocol: other\r\n"))
	if resp.StatusCode != 400 {
		t.Fatalf("no matching subprotocol with -require-subprotocol: %d", resp.StatusCode)
	}
	// No Origin (a mini-program) is fine; the client's first choice that
	// the server speaks wins.
	resp, _ = rawRequest(t, addr, upgradeRequest("Sec-WebSocket-Protocol: other, chat.v1, chat.v2\r\nX-Forwarded-For: 10.1.1.1, 203.0.113.7\r\n"))
	if resp.StatusCode != 101 || resp.Header.Get("Sec-WebSocket-Protocol") != "chat.v1" {
		t.Fatalf("upgrade: %d protocol %q", resp.StatusCode, resp.Header.Get("Sec-WebSocket-Protocol"))
	}
	c := <-r.got
	if c.RemoteAddr() != "203.0.113.7" || c.RequestURI() != "/chat?room=1" || c.Subprotocol() != "chat.v1" {
		t.Fatalf("remote %q uri %q protocol %q", c.RemoteAddr(), c.RequestURI(), c.Subprotocol())
	}
}

func TestForwardedHeadersIgnoredFromStrangers(t *testing.T) {
	r := &recorder{got: make(chan *Conn, 1)}
	_, url := startServer(t, Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, r)
	hdr := ws.HandshakeHeaderHTTP(http.Header{"X-Real-Ip": {"203.0.113.9"}})
	c, _, _, err := ws.Dialer{Header: hdr}.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := <-r.got
	if got.RemoteAddr() != c.LocalAddr().String() {
		t.Fatalf("remote %q, want the TCP peer %q", got.RemoteAddr(), c.LocalAddr())
	}
}
