package webhook

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newTestClient(t *testing.T, h http.HandlerFunc, o Options) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	o.URL, o.Log = srv.URL, quiet()
	c := New(o)
	t.Cleanup(func() { c.Shutdown(context.Background()) })
	return c
}

func TestListDecodesOneOrMany(t *testing.T) {
	var r Reply
	if err := json.Unmarshal([]byte(`{"reply":"hi","join":["a","b"],"publish":{"room":"r","data":"x"},"leave":null}`), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Reply) != 1 || r.Reply[0] != "hi" || len(r.Join) != 2 || len(r.Publish) != 1 || r.Publish[0].Room != "r" || r.Leave != nil {
		t.Errorf("decoded %+v", r)
	}
	if err := json.Unmarshal([]byte(`{"reply":5}`), &r); err == nil {
		t.Error("a number as a reply decoded")
	}
}

func TestCallAnswers(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if got := r.Header.Get("X-Wsfleet-Signature"); got != Sign(secret, b) {
			t.Errorf("signature %q", got)
		}
		switch r.Header.Get("X-Wsfleet-Event") {
		case KindOpen:
			w.WriteHeader(http.StatusForbidden)
		case KindMessage:
			io.WriteString(w, `{"reply":["a","b"],"close":{"code":4000,"reason":"x"}}`)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}, Options{Secret: secret})
	r, err := c.Call(KindOpen, "c1", &Open{Event: KindOpen})
	if err != nil || r.Refuse == nil || r.Refuse.Code != 4003 {
		t.Errorf("open answered 403: %+v, %v; want a refusal with 4003", r, err)
	}
	r, err = c.Call(KindMessage, "c1", &Message{Event: KindMessage})
	if err != nil || len(r.Reply) != 2 || r.Close == nil || r.Close.Code != 4000 {
		t.Errorf("message: %+v, %v", r, err)
	}
	if r, err = c.Call(KindClose, "c1", &Close{Event: KindClose}); err != nil || !r.empty() {
		t.Errorf("close answered 204: %+v, %v; want nothing asked", r, err)
	}
	if s := c.Stats(); s.Sent != 3 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestCallFailures(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("case") {
		case "5xx":
			w.WriteHeader(http.StatusBadGateway)
		case "redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "big":
			io.WriteString(w, `{"reply":"`+strings.Repeat("x", MaxAnswer)+`"}`)
		case "garbage":
			io.WriteString(w, "<html>")
		case "slow":
			<-release
		}
	}, Options{Timeout: 300 * time.Millisecond})
	base := c.opts.URL
	for _, k := range []string{"5xx", "redirect", "big", "garbage", "slow"} {
		c.opts.URL = base + "/?case=" + k
		start := time.Now()
		if _, err := c.Call(KindMessage, "c1", &Message{}); err == nil {
			t.Errorf("%s: no error", k)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: took %s, the timeout is 300ms", k, d)
		}
	}
	if s := c.Stats(); s.Failed != 5 {
		t.Errorf("stats %+v, want 5 failed", s)
	}
}

func TestQueueOrderAndBound(t *testing.T) {
	var mu sync.Mutex
	var got []string
	hold := make(chan struct{})
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		var m Message
		json.NewDecoder(r.Body).Decode(&m)
		if m.Data == "first" {
			<-hold
		}
		mu.Lock()
		got = append(got, m.Event+":"+m.Data)
		mu.Unlock()
		io.WriteString(w, `{"reply":"ok"}`)
	}, Options{})
	q := c.Queue("c1", func(*Reply) {})
	if ok, err := q.Post(&Message{Data: "first"}); !ok || err != nil {
		t.Fatal("the first message was not taken")
	}
	// One in flight (held), MaxQueued waiting: the next one is refused.
	waitFor(t, func() bool { q.mu.Lock(); defer q.mu.Unlock(); return len(q.items) == 0 })
	for i := range MaxQueued {
		if ok, _ := q.Post(&Message{Data: string(rune('a' + i%26))}); !ok {
			t.Fatalf("message %d refused, the bound is %d", i, MaxQueued)
		}
	}
	if ok, _ := q.Post(&Message{Data: "over"}); ok {
		t.Error("a message over the queue's bound was taken")
	}
	if err := q.PostLast(&Close{Code: 1000}); err != nil {
		t.Fatal(err)
	}
	close(hold)
	if err := c.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The full queue was dropped for the close; the one in flight was
	// answered first.
	if len(got) != 2 || got[0] != "message:first" || got[1] != "close:" {
		t.Errorf("sent %v, want the first message, then the close", got)
	}
	if c.Stats().QueueFull != 1 || c.pending.Load() != 0 {
		t.Errorf("stats %+v, pending %d", c.Stats(), c.pending.Load())
	}
	if ok, _ := q.Post(&Message{Data: "late"}); ok {
		// taken, then dropped: Shutdown has run
		q.mu.Lock()
		n := len(q.items)
		q.mu.Unlock()
		if n != 0 {
			t.Error("an event after Shutdown was queued")
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond) // polling period
	}
}

// TestKeepAlive: sequential events reuse one connection to the backend.
func TestKeepAlive(t *testing.T) {
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"reply":"ok"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	c := New(Options{URL: srv.URL, Log: quiet()})
	defer c.Shutdown(context.Background())
	for range 20 {
		if _, err := c.Call(KindMessage, "c1", &Message{Data: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if conns != 1 {
		t.Errorf("20 events opened %d connections, want 1", conns)
	}
}
