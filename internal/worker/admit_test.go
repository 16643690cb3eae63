package worker

import (
	"errors"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsfleet/wsfleet/internal/ratelog"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/auth"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// A client retrying bad tokens in a loop gets at most rateLogBurst log
// lines a second; the next line that is let through counts the rest.
func TestRateLogBound(t *testing.T) {
	r := ratelog.Limiter{Burst: rateLogBurst}
	t0 := time.Unix(1000, 0)
	logged := 0
	for i := 0; i < 10000; i++ {
		if ok, _ := r.Allow(t0.Add(time.Duration(i) * time.Microsecond)); ok {
			logged++
		}
	}
	if logged != rateLogBurst {
		t.Fatalf("%d lines logged in one second, want %d", logged, rateLogBurst)
	}
	ok, dropped := r.Allow(t0.Add(time.Second))
	if !ok || dropped != 10000-rateLogBurst {
		t.Fatalf("next second: allow = %v, dropped = %d; want true, %d", ok, dropped, 10000-rateLogBurst)
	}
}

// Only the allowed headers reach an open event; Cookie and Authorization
// only when named.
func TestPickHeaders(t *testing.T) {
	r := &gateway.Request{Host: "example.com", Header: http.Header{
		"Cookie": {"sid=1"}, "Authorization": {"Bearer x"}, "Origin": {"https://a"}, "X-Multi": {"a", "b"}}}
	if got := pickHeaders(r, nil); got != nil {
		t.Errorf("no allow-list: %v, want none", got)
	}
	got := pickHeaders(r, []string{"Origin", "X-Multi", "Host", "X-Absent"})
	want := map[string]string{"Origin": "https://a", "X-Multi": "a, b", "Host": "example.com"}
	if len(got) != len(want) {
		t.Fatalf("picked %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if got := pickHeaders(r, []string{"Cookie"}); got["Cookie"] != "sid=1" || len(got) != 1 {
		t.Errorf("Cookie named: %v", got)
	}
}

func TestReasonOf(t *testing.T) {
	for err, want := range map[error]string{
		auth.ErrExpired: "token expired",
		errors.Join(auth.ErrSignature, errors.New("x")): "bad signature",
		errors.New("other"):                             "invalid token",
	} {
		if got := reasonOf(err); got != want {
			t.Errorf("reasonOf(%v) = %q, want %q", err, got, want)
		}
	}
}

func TestPathOfDropsTheQuery(t *testing.T) {
	if got := pathOf("/chat?token=secret&room=1"); got != "/chat" {
		t.Errorf("pathOf = %q", got)
	}
}

func TestWithoutToken(t *testing.T) {
	for in, want := range map[string]string{
		"/?token=abc":             "/",
		"/chat?room=1&token=abc":  "/chat?room=1",
		"/chat?token=a&b=2&c=%20": "/chat?b=2&c=+",
	} {
		if got := withoutToken(in); got != want {
			t.Errorf("withoutToken(%q) = %q, want %q", in, got, want)
		}
	}
}

// gatekeeper is an application with its own scheme (app.Admitter).
type gatekeeper struct {
	app.Echo
	seen *app.Handshake
}

func (g *gatekeeper) Admit(h *app.Handshake) (any, error) {
	cp := *h
	g.seen = &cp
	if ck, err := h.Cookie("sid"); err != nil || ck.Value != "ok" {
		return nil, &app.Refusal{Status: http.StatusForbidden, Reason: "no session"}
	}
	return "session", nil
}

// The application's Admit sees the request, with the token's user and
// without the token; its Refusal becomes the gateway's, status and all.
func TestAdmitterReachesTheApp(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	v, err := auth.New(auth.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ann"}).SignedString(secret)
	g := &gatekeeper{}
	a := &admitter{tokens: &tokens{verifier: v, log: slog.New(slog.DiscardHandler)}, app: g}

	req := func(cookie string) *gateway.Request {
		return &gateway.Request{URI: "/x?token=" + tok + "&a=1", RemoteAddr: "192.0.2.1:5",
			Header: http.Header{"Cookie": {cookie}}}
	}
	got, err := a.admit(req("sid=ok"))
	adm, _ := got.(*admission)
	if err != nil || adm == nil || adm.value != "session" || adm.token.Subject != "ann" {
		t.Fatalf("admit = %+v, %v; want the app's session for ann", got, err)
	}
	if g.seen.User != "ann" || g.seen.URI != "/x?a=1" || g.seen.RemoteAddr != "192.0.2.1:5" {
		t.Errorf("the app saw %+v", g.seen)
	}
	_, err = a.admit(req("sid=bad"))
	var rf *gateway.Refusal
	if !errors.As(err, &rf) || rf.Status != http.StatusForbidden || rf.Reason != "no session" {
		t.Errorf("refused admit = %v, want the app's 403", err)
	}
	// No token: 401 before the application is asked.
	g.seen = nil
	_, err = a.admit(&gateway.Request{URI: "/x", Header: http.Header{"Cookie": {"sid=ok"}}})
	if !errors.As(err, &rf) || rf.Status != http.StatusUnauthorized || g.seen != nil {
		t.Errorf("tokenless admit = %v (app asked: %v), want 401 first", err, g.seen != nil)
	}
}

// TestRefreshIsBounded: a client sending refreshes in a loop, bad tokens or
// good, has at most refreshBurst of them verified per refreshWindow.
func TestRefreshIsBounded(t *testing.T) {
	secret := []byte("a secret of the test")
	v, err := auth.New(auth.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tk := &tokens{verifier: v, log: slog.New(slog.DiscardHandler), conns: make(map[*gateway.Conn]*tokenState)}
	c := &gateway.Conn{}
	tk.start(c, time.Time{}, "ben")
	good, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "ben", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	for i := range refreshBurst - 1 {
		if _, err := tk.refresh(c, "not.a.token"); err == nil || errors.Is(err, errRefreshBurst) {
			t.Fatalf("bad refresh %d: %v, want a token error", i, err)
		}
	}
	if _, err := tk.refresh(c, good); err != nil {
		t.Fatalf("refresh %d, a good token: %v", refreshBurst, err)
	}
	if _, err := tk.refresh(c, good); !errors.Is(err, errRefreshBurst) {
		t.Fatalf("refresh %d: %v, want %v", refreshBurst+1, err, errRefreshBurst)
	}
	tk.stop(c)
	if _, err := tk.refresh(c, good); !errors.Is(err, gateway.ErrClosed) {
		t.Fatalf("refresh after the end: %v, want %v", err, gateway.ErrClosed)
	}
}
