package adminui

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// testUI serves a Handler whose cluster is one host with connections
// counted by conns.
func testUI(t *testing.T, maxLive int) (*httptest.Server, *Handler, *[]string) {
	t.Helper()
	var calls []string
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls = append(calls, r.URL.Path+" "+string(b))
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"ok":true}`)
	})
	h, err := New(Options{
		Password: "pw", MaxLive: maxLive, Logger: slog.New(slog.DiscardHandler), API: api,
		Source: func(context.Context) ([]Host, error) {
			return []Host{{Node: "h1", Connections: 7, WorkerRows: []Worker{{PID: 10, MessagesIn: 5}}}}, nil
		},
		Reload: func(context.Context) error { return nil },
		Search: func(context.Context, string) ([]Found, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.Close(); srv.Close() })
	return srv, h, &calls
}

func login(t *testing.T, srv *httptest.Server, pw string, csrf bool) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/admin/login", strings.NewReader(url.Values{"password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if csrf {
		req.Header.Set(csrfHeader, "1")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

func TestLoginCookieAndRefusals(t *testing.T) {
	srv, _, _ := testUI(t, 2)
	if res := login(t, srv, "pw", false); res.StatusCode != http.StatusForbidden {
		t.Fatalf("login without %s: %d, want 403", csrfHeader, res.StatusCode)
	}
	for i := range freeFailures {
		if res := login(t, srv, "wrong", true); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong password %d: %d, want 401", i, res.StatusCode)
		}
	}
	res := login(t, srv, "pw", true)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("after %d wrong passwords, even the right one: %d (Retry-After %q), want 429 with Retry-After", freeFailures, res.StatusCode, res.Header.Get("Retry-After"))
	}

	srv2, _, calls := testUI(t, 2)
	res = login(t, srv2, "pw", true)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("right password: %d", res.StatusCode)
	}
	c := res.Cookies()
	if len(c) != 1 || !c[0].HttpOnly || c[0].SameSite != http.SameSiteStrictMode || c[0].Path != "/admin/" || c[0].MaxAge <= 0 || len(c[0].Value) != 64 {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/admin/, a Max-Age, 32 random bytes", c)
	}
	post := func(path, body string, cookie bool) int {
		req, _ := http.NewRequest(http.MethodPost, srv2.URL+path, strings.NewReader(body))
		req.Header.Set(csrfHeader, "1")
		if cookie {
			req.AddCookie(c[0])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post("/admin/publish", `{"data":"x"}`, false); code != http.StatusUnauthorized {
		t.Fatalf("publish without a session: %d", code)
	}
	if code := post("/admin/publish", `{"data":"x"}`, true); code != http.StatusOK || len(*calls) != 1 || (*calls)[0] != `/api/publish {"data":"x"}` {
		t.Fatalf("publish: %d, the API got %q; want the body on /api/publish", code, *calls)
	}
	if code := post("/admin/logout", "", true); code != http.StatusOK {
		t.Fatalf("logout: %d", code)
	}
	if code := post("/admin/publish", `{"data":"x"}`, true); code != http.StatusUnauthorized {
		t.Fatalf("publish after logout: %d", code)
	}
}

func TestLiveSocketsBounded(t *testing.T) {
	srv, _, _ := testUI(t, 2)
	res := login(t, srv, "pw", true)
	cookie := res.Cookies()[0]
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/admin/live"
	dial := func() (ws.Dialer, error) {
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {cookie.String()}})}
		return d, nil
	}
	d, _ := dial()
	var conns []interface{ Close() error }
	for i := range 2 {
		conn, br, _, err := d.Dial(context.Background(), u)
		if err != nil {
			t.Fatalf("live socket %d: %v", i, err)
		}
		conns = append(conns, conn)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		var rw io.ReadWriter = conn
		if br != nil { // the first snapshot may have come with the handshake
			rw = struct {
				io.Reader
				io.Writer
			}{io.MultiReader(br, conn), conn}
		}
		b, err := wsutil.ReadServerText(rw)
		if err != nil {
			t.Fatalf("live socket %d: %v", i, err)
		}
		var snap Snapshot
		if err := json.Unmarshal(b, &snap); err != nil || len(snap.Hosts) != 1 || snap.Hosts[0].Connections != 7 || len(snap.Series) == 0 {
			t.Fatalf("snapshot %s: %v", b, err)
		}
	}
	if _, _, _, err := d.Dial(context.Background(), u); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("a third live socket, over the bound of 2: %v, want 503", err)
	}
	if _, _, _, err := (ws.Dialer{}).Dial(context.Background(), u); err == nil {
		t.Fatal("a live socket without a session was accepted")
	}
	for _, c := range conns {
		c.Close()
	}
}
