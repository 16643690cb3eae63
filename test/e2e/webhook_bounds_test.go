package e2e

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestWebhookBounds: a backend that never answers costs a connection no
// more than -webhook-timeout; one worker never has more than
// -webhook-concurrency requests in flight; a client sending faster than
// the backend answers is closed with 1013 once its queue is full.
func TestWebhookBounds(t *testing.T) {
	release, slowOpen := make(chan struct{}), make(chan struct{})
	var hold atomic.Bool // hold message events until release is closed
	b := newHookBackend(t, func(ev hookEvent) (int, any) {
		switch {
		case ev.Event == "open" && first(ev.Query["slow"]) == "1":
			<-slowOpen
		case ev.Event == "message" && hold.Load():
			<-release
		case ev.Event == "message" && strings.HasPrefix(ev.Data, "wait"):
			// Held until as many as the bound are in flight, so that a
			// worker that sent more at once would be seen doing it.
			time.Sleep(200 * time.Millisecond) // the backend's work, not a synchronisation
		}
		if ev.Event != "message" {
			return 200, nil
		}
		return 200, map[string]any{"reply": "ok " + ev.Data}
	})
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	const limit = 3
	c := startCluster(t, clusterOpts{count: 1, app: "echo", extra: []string{"-webhook", b.url(),
		"-webhook-timeout", "1s", "-webhook-concurrency", fmt.Sprint(limit)}})

	t.Run("timeout", func(t *testing.T) {
		cl := dialWSWith(t, c.addr, "/?slow=1", nil)
		start := time.Now()
		if ev := cl.expectClose(5*time.Second, ws.StatusInternalServerError); ev.reason != "backend unavailable" {
			t.Errorf("close reason %q, want %q", ev.reason, "backend unavailable")
		}
		if d := time.Since(start); d > 2500*time.Millisecond {
			t.Errorf("a backend that never answers held the open for %s, -webhook-timeout is 1s", d)
		}
		close(slowOpen) // the test's backend counts its requests in flight: let this one go
		waitFor(t, 5*time.Second, func() error {
			b.mu.Lock()
			defer b.mu.Unlock()
			if b.inFlight != 0 {
				return fmt.Errorf("%d requests in flight", b.inFlight)
			}
			return nil
		})
	})

	t.Run("concurrency", func(t *testing.T) {
		b.mu.Lock()
		b.maxIn = 0
		b.mu.Unlock()
		var clients []*wsClient
		for range 4 * limit {
			cl := dialWSWith(t, c.addr, "/", nil)
			clients = append(clients, cl)
		}
		for i, cl := range clients {
			cl.send(fmt.Sprintf("wait%d", i))
		}
		for i, cl := range clients {
			// The echo application answers at once, the webhook later:
			// both, in either order.
			got := map[string]bool{}
			for range 2 {
				got[string(cl.nextMessage(10*time.Second).data)] = true
			}
			if w := fmt.Sprintf("wait%d", i); !got["hello "+w] || !got["ok "+w] {
				t.Errorf("client %d got %v, want the echo and the webhook's reply", i, got)
			}
		}
		b.mu.Lock()
		peak := b.maxIn
		b.mu.Unlock()
		if peak > limit || peak < 2 {
			t.Errorf("at most %d requests were in flight at once, want 2 to -webhook-concurrency %d", peak, limit)
		}
	})

	t.Run("queue full", func(t *testing.T) {
		cl := dialWSWith(t, c.addr, "/", nil)
		hold.Store(true)
		for i := range 200 {
			if err := cl.write(ws.OpText, []byte(fmt.Sprintf("m%d", i))); err != nil {
				break // closed already
			}
		}
		cl.expectClose(10*time.Second, ws.StatusCode(1013))
		hold.Store(false)
		close(release)
	})
}

// TestWebhookWithTokens: with -jwt-secret-file, a bad token is answered
// 401 before the backend hears of it; a good one's open event carries its
// subject as uid and a query without the token.
func TestWebhookWithTokens(t *testing.T) {
	b := newHookBackend(t, func(hookEvent) (int, any) { return 200, nil })
	k := newTokenKit(t)
	c := startCluster(t, clusterOpts{count: 1, app: "echo", extra: []string{"-webhook", b.url(),
		"-jwt-secret-file", k.secretFile()}})
	expectStatus(t, c.addr, "no token", "", 401)
	cl := dialWSWith(t, c.addr, "/app?room=1&token="+k.hs256("carol", time.Minute), nil)
	if err := cl.roundTrip("hi"); err != nil {
		t.Fatal(err)
	}
	opens := b.find(func(ev hookEvent) bool { return ev.Event == "open" })
	if len(opens) != 1 {
		t.Fatalf("%d open events, want 1 (the refused upgrade never reaches the backend)", len(opens))
	}
	if ev := opens[0]; ev.UID != "carol" || ev.Path != "/app" || first(ev.Query["room"]) != "1" || ev.Query["token"] != nil {
		t.Errorf("open event %+v: want uid carol, path /app, query room=1 without the token", ev)
	}
	b.waitEvent("message", func(ev hookEvent) bool { return ev.Event == "message" && ev.UID == "carol" && ev.Data == "hi" })
}
