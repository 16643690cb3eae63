package gateway

import (
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
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
