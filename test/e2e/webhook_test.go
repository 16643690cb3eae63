package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// hookEvent is any webhook request body (docs/webhook.md).
type hookEvent struct {
	Event       string              `json:"event"`
	Conn        string              `json:"conn"`
	Remote      string              `json:"remote"`
	Path        string              `json:"path"`
	Query       map[string][]string `json:"query"`
	Header      map[string]string   `json:"header"`
	Subprotocol string              `json:"subprotocol"`
	UID         string              `json:"uid"`
	Data        string              `json:"data"`
	Binary      bool                `json:"binary"`
	Code        int                 `json:"code"`
	Reason      string              `json:"reason"`
	Rooms       []string            `json:"rooms"`
}

// hookBackend is a webhook backend in the test process: every event is
// recorded, and answer decides the status and JSON answer of each.
type hookBackend struct {
	t      *testing.T
	srv    *httptest.Server
	answer func(ev hookEvent) (int, any)
	secret []byte // when set, every request must carry its X-Wsfleet-Signature

	mu       sync.Mutex
	events   []hookEvent
	inFlight int
	maxIn    int
}

func newHookBackend(t *testing.T, answer func(ev hookEvent) (int, any)) *hookBackend {
	b := &hookBackend{t: t, answer: answer}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *hookBackend) url() string { return b.srv.URL + "/events" }

func (b *hookBackend) serve(w http.ResponseWriter, r *http.Request) {
	var ev hookEvent
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &ev); err != nil {
		b.t.Errorf("webhook body: %v", err)
	}
	if b.secret != nil {
		m := hmac.New(sha256.New, b.secret)
		m.Write(body)
		if want := "sha256=" + hex.EncodeToString(m.Sum(nil)); r.Header.Get("X-Wsfleet-Signature") != want {
			b.t.Errorf("X-Wsfleet-Signature %q, want %q", r.Header.Get("X-Wsfleet-Signature"), want)
		}
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("X-Wsfleet-Event") != ev.Event {
		b.t.Errorf("webhook request: %s, Content-Type %q, X-Wsfleet-Event %q for a %s event",
			r.Method, r.Header.Get("Content-Type"), r.Header.Get("X-Wsfleet-Event"), ev.Event)
	}
	b.mu.Lock()
	b.events = append(b.events, ev)
	b.inFlight++
	b.maxIn = max(b.maxIn, b.inFlight)
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		b.inFlight--
		b.mu.Unlock()
	}()
	status, v := b.answer(ev)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}

// find returns the recorded events that match, in arrival order.
func (b *hookBackend) find(match func(hookEvent) bool) []hookEvent {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []hookEvent
	for _, ev := range b.events {
		if match(ev) {
			out = append(out, ev)
		}
	}
	return out
}

// waitEvent waits for an event that matches and returns the first.
func (b *hookBackend) waitEvent(what string, match func(hookEvent) bool) hookEvent {
	b.t.Helper()
	var got []hookEvent
	waitFor(b.t, 10*time.Second, func() error {
		if got = b.find(match); len(got) == 0 {
			return fmt.Errorf("no %s event", what)
		}
		return nil
	})
	return got[0]
}

// chatAnswers is the test's Events.php: a query token authenticates
// ("good", or HTTP 403 for "forbid"), "join R" joins room R, "say R T"
// publishes T to room R, anything else is answered "hello " and itself.
func chatAnswers(ev hookEvent) (int, any) {
	switch ev.Event {
	case "open":
		switch tok := first(ev.Query["token"]); tok {
		case "good":
			return 200, map[string]any{"reply": "welcome", "bind": "alice"}
		case "forbid":
			return http.StatusForbidden, nil
		default:
			return 200, map[string]any{"refuse": map[string]any{"code": 4003, "reason": "bad token"}}
		}
	case "message":
		if room, ok := strings.CutPrefix(ev.Data, "join "); ok {
			return 200, map[string]any{"join": []string{room}, "reply": "joined " + room}
		}
		if rest, ok := strings.CutPrefix(ev.Data, "say "); ok {
			room, text, _ := strings.Cut(rest, " ")
			return 200, map[string]any{"publish": map[string]any{"room": room, "data": text}}
		}
		if ev.Data == "fail" {
			return http.StatusInternalServerError, nil
		}
		if ev.Data == "bye" {
			return 200, map[string]any{"close": map[string]any{"code": 4000, "reason": "bye"}}
		}
		return 200, map[string]any{"reply": []string{"hello " + ev.Data}}
	}
	return http.StatusNoContent, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// TestWebhook runs a room chat through a webhook backend's answers, on
// two workers of the "none" application (GatewayWorker's gateway and
// Events.php): the open carries the path, query, the named headers and
// the client's address after -trusted-proxy; the answers' commands reach
// the client; a refusal closes with its code; messages go out in order.
func TestWebhook(t *testing.T) {
	b := newHookBackend(t, chatAnswers)
	b.secret = []byte(strings.Repeat("s", 40))
	secretFile := filepath.Join(t.TempDir(), "webhook.secret")
	if err := os.WriteFile(secretFile, append(b.secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, clusterOpts{count: 2, app: "none", extra: []string{"-webhook", b.url(),
		"-webhook-secret-file", secretFile, "-events-headers", "X-App-Token", "-trusted-proxy", "127.0.0.1/32"}})

	h := ws.HandshakeHeaderHTTP(http.Header{"X-App-Token": {"abc"}, "Cookie": {"session=secret"},
		"X-Forwarded-For": {"203.0.113.7"}})
	a := dialWSWith(t, c.addr, "/chat?token=good&x=1", h)
	a.expect("welcome")
	open := b.waitEvent("open", func(ev hookEvent) bool { return ev.Event == "open" && first(ev.Query["x"]) == "1" })
	if open.Path != "/chat" || first(open.Query["token"]) != "good" || !strings.HasPrefix(open.Remote, "203.0.113.7") ||
		open.Header["X-App-Token"] != "abc" || len(open.Header) != 1 || !strings.Contains(open.Conn, "-") {
		t.Errorf("open event %+v: want path /chat, the query, remote 203.0.113.7, only X-App-Token", open)
	}

	// A message the backend fails on is dropped; the connection stays.
	a.send("fail")
	a.send("hi")
	a.expect("hello hi")
	a.sendBinary([]byte{0, 1, 2, 0xff})
	a.expect("hello " + base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}))
	bin := b.waitEvent("binary message", func(ev hookEvent) bool { return ev.Event == "message" && ev.Binary })
	if bin.Conn != open.Conn {
		t.Errorf("binary message of %s, want %s", bin.Conn, open.Conn)
	}

	// Messages go out one at a time, in order, and so do the answers.
	for i := range 50 {
		a.send(fmt.Sprintf("n%02d", i))
	}
	for i := range 50 {
		a.expect(fmt.Sprintf("hello n%02d", i))
	}
	var seq []string
	for _, ev := range b.find(func(ev hookEvent) bool { return ev.Conn == open.Conn && strings.HasPrefix(ev.Data, "n") }) {
		seq = append(seq, ev.Data)
	}
	for i, s := range seq {
		if s != fmt.Sprintf("n%02d", i) {
			t.Fatalf("message events out of order: %v", seq)
		}
	}

	// A room chat through the answers: join, then a publish to the room
	// reaches both members, wherever they are.
	d := dialWSWith(t, c.addr, "/chat?token=good", nil)
	d.expect("welcome")
	for _, cl := range []*wsClient{a, d} {
		cl.send("join lobby")
		cl.expect("joined lobby")
	}
	a.send("say lobby hey all")
	a.expect("hey all")
	d.expect("hey all")

	// The answer's close, and the close event with its rooms and user.
	d.send("bye")
	d.expectClose(5*time.Second, 4000)
	cl := b.waitEvent("close", func(ev hookEvent) bool { return ev.Event == "close" && ev.Code == 4000 })
	if cl.UID != "alice" || len(cl.Rooms) != 1 || cl.Rooms[0] != "lobby" || cl.Reason != "bye" {
		t.Errorf("close event %+v: want uid alice, rooms [lobby], reason bye", cl)
	}

	// Refusals: by the answer's code, and by HTTP 403.
	r := dialWSWith(t, c.addr, "/chat?token=bad", nil)
	if ev := r.expectClose(5*time.Second, 4003); ev.reason != "bad token" {
		t.Errorf("refusal reason %q, want %q", ev.reason, "bad token")
	}
	f := dialWSWith(t, c.addr, "/chat?token=forbid", nil)
	f.expectClose(5*time.Second, 4003)
	if n := len(b.find(func(ev hookEvent) bool { return ev.Event == "close" && ev.Code == 4003 })); n != 0 {
		t.Errorf("%d close events for refused connections, want none", n)
	}

	// A stop closes a with 1001, and its worker POSTs the close event
	// before it exits.
	c.mustCLI("stop")
	b.waitEvent("close 1001", func(ev hookEvent) bool { return ev.Event == "close" && ev.Conn == open.Conn && ev.Code == 1001 })
	c.waitGone(15 * time.Second)
}

// TestWebhookBackendDown: with nothing listening at the webhook's URL, a
// connection is closed with 1011 "backend unavailable" (fail closed: the
// webhook authenticates) and the worker says why in its log, once a
// second at most.
func TestWebhookBackendDown(t *testing.T) {
	url := "http://" + freeAddr(t) + "/events"
	admin := freeAddr(t)
	c := startCluster(t, clusterOpts{count: 1, app: "echo", extra: []string{"-webhook", url, "-webhook-timeout", "2s", "-admin-listen", admin}})
	var clients []*wsClient
	for range 5 {
		cl := dialWSWith(t, c.addr, "/", nil)
		start := time.Now()
		if ev := cl.expectClose(5*time.Second, ws.StatusInternalServerError); ev.reason != "backend unavailable" {
			t.Errorf("close reason %q, want %q", ev.reason, "backend unavailable")
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("refused after %s, more than -webhook-timeout", d)
		}
		clients = append(clients, cl)
	}
	out, _ := os.ReadFile(c.fgOut)
	lines := strings.Count(string(out), "webhook request failed")
	if lines < 1 || lines > 5 {
		t.Errorf("%d log lines \"webhook request failed\" for 5 failures, want 1 to 5:\n%s", lines, out)
	}
	mustContain(t, "master output", string(out), "connection refused", url)
	m := scrapeMetrics(t, admin)
	if got := m.sum("wsfleet_webhook_events_total", "result", "failed"); got != 5 {
		t.Errorf("wsfleet_webhook_events_total{result=failed} = %v, want 5", got)
	}
	if got := m.sum("wsfleet_webhook_events_total", "result", "sent"); got != 0 {
		t.Errorf("wsfleet_webhook_events_total{result=sent} = %v, want 0", got)
	}
}
