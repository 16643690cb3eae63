package worker

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/pkg/auth"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// A client retrying bad tokens in a loop gets at most rateLogBurst log
// lines a second; the next line that is let through counts the rest.
func TestRateLogBound(t *testing.T) {
	var r rateLog
	t0 := time.Unix(1000, 0)
	logged := 0
	for i := 0; i < 10000; i++ {
		if ok, _ := r.allow(t0.Add(time.Duration(i) * time.Microsecond)); ok {
			logged++
		}
	}
	if logged != rateLogBurst {
		t.Fatalf("%d lines logged in one second, want %d", logged, rateLogBurst)
	}
	ok, dropped := r.allow(t0.Add(time.Second))
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
