package gateway

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// Admit sees the request (URI, headers, cookies, address after a trusted
// proxy), its value reaches OnOpen as Value, and its refusal is the HTTP
// answer: the status, the reason and the headers, and no connection.
func TestAdmit(t *testing.T) {
	seen := make(chan Request, 4)
	admit := func(r *Request) (any, error) {
		seen <- *r
		switch r.Header.Get("X-Case") {
		case "refuse":
			return nil, &Refusal{Status: http.StatusUnauthorized, Reason: "no token", Header: http.Header{"Www-Authenticate": {"Bearer"}}}
		case "fail":
			return nil, errors.New("database down")
		case "panic":
			panic("boom")
		}
		r.URI = "/chat" // drops the credential the query held
		return "session-42", nil
	}
	rec := &recorder{got: make(chan *Conn, 1)}
	srv, url := startServer(t, Options{Admit: admit, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, rec)
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")

	resp, _ := rawRequest(t, addr, upgradeRequest("Cookie: sid=abc\r\nX-Real-IP: 203.0.113.9\r\n"))
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("accepted upgrade = %d", resp.StatusCode)
	}
	r := <-seen
	hreq := &http.Request{Header: r.Header}
	if ck, err := hreq.Cookie("sid"); err != nil || ck.Value != "abc" {
		t.Errorf("cookie sid = %v, %v", ck, err)
	}
	if r.URI != "/chat?room=1" || r.Host != "x" || r.RemoteAddr != "203.0.113.9" {
		t.Errorf("Admit saw URI %q, Host %q, RemoteAddr %q", r.URI, r.Host, r.RemoteAddr)
	}
	if c := <-rec.got; c.Value != "session-42" || c.RequestURI() != "/chat" {
		t.Errorf("OnOpen's Value = %v, RequestURI = %q; want Admit's", c.Value, c.RequestURI())
	}

	for _, tc := range []struct {
		kase   string
		status int
		body   string
	}{
		{"refuse", http.StatusUnauthorized, "no token"},
		{"fail", http.StatusInternalServerError, "internal error"},
		{"panic", http.StatusInternalServerError, "internal error"},
	} {
		resp, _ := rawRequest(t, addr, upgradeRequest("X-Case: "+tc.kase+"\r\n"))
		<-seen
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.kase, resp.StatusCode, body, tc.status, tc.body)
		}
		if tc.kase == "refuse" && resp.Header.Get("WWW-Authenticate") != "Bearer" {
			t.Errorf("refusal's header WWW-Authenticate = %q", resp.Header.Get("WWW-Authenticate"))
		}
	}
	if n := srv.Stats().Connections; n != 1 {
		t.Errorf("%d connections; only the admitted one should be", n)
	}
}

// TestAdmitRefusalIsNotABadRequest: Options.Admit's refusals (a 401 for a
// missing token, the application's own scheme) are the application's to
// count and log; Stats.Refused.BadRequest counts requests we do not serve.
func TestAdmitRefusalIsNotABadRequest(t *testing.T) {
	admit := func(*Request) (any, error) { return nil, &Refusal{Status: http.StatusUnauthorized, Reason: "no token"} }
	srv, url := startServer(t, Options{Admit: admit}, &echo{})
	addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/")
	if resp, _ := rawRequest(t, addr, upgradeRequest("")); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("refused upgrade = %d", resp.StatusCode)
	}
	bad := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if resp, _ := rawRequest(t, addr, bad); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("upgrade without a key = %d", resp.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(ctx, ws.StatusGoingAway, "test over") // waits for the handshakes: both are counted
	if r := srv.Stats().Refused; r.BadRequest != 1 || r.Total() != 1 {
		t.Fatalf("refused %+v, want the keyless upgrade alone, as a bad request", r)
	}
}
