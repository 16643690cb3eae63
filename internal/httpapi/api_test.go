package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// fakeBus records what the API sends.
type fakeBus struct {
	mu   sync.Mutex
	sent []string
}

func (f *fakeBus) rec(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, fmt.Sprintf(format, args...))
	return nil
}

func (f *fakeBus) PublishAll(m bus.Message) error { return f.rec("all %q %v", m.Data, m.Binary) }
func (f *fakeBus) PublishRoom(r string, m bus.Message) error {
	return f.rec("room %s %q ex=%s", r, m.Data, m.Exclude)
}
func (f *fakeBus) PublishUser(u string, m bus.Message) error { return f.rec("user %s %q", u, m.Data) }
func (f *fakeBus) PublishConn(c string, m bus.Message) error { return f.rec("conn %s %q", c, m.Data) }
func (f *fakeBus) PublishCommand(c string, cmd bus.Command) error {
	return f.rec("cmd %s %+v", c, cmd)
}

// fakePresence answers from fixed data; block, when set, holds every
// question until it is closed.
type fakePresence struct{ block chan struct{} }

func (f fakePresence) wait(ctx context.Context) error {
	if f.block == nil {
		return nil
	}
	select {
	case <-f.block:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
func (f fakePresence) ConnectionCount(ctx context.Context) (int, error) { return 7, f.wait(ctx) }
func (f fakePresence) RoomCount(context.Context, string) (int, error)   { return 2, nil }
func (f fakePresence) UserConns(_ context.Context, u string) ([]string, error) {
	if u == "ann" {
		return []string{"h-1-1", "h-2-5"}, nil
	}
	return nil, nil
}
func (f fakePresence) RoomMembers(context.Context, string) ([]app.Member, error) {
	return []app.Member{{ConnID: "h-1-1", UID: "ann"}, {ConnID: "h-1-2"}}, nil
}

func newTest(t *testing.T, opts Options) (*Handler, *fakeBus, *bytes.Buffer) {
	t.Helper()
	fb := &fakeBus{}
	var logs bytes.Buffer
	opts.Key, opts.Bus = "k", fb
	if opts.Presence == nil {
		opts.Presence = fakePresence{}
	}
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return h, fb, &logs
}

func call(h http.Handler, method, path, key, body string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		r.Header.Set("X-API-Key", key)
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestCalls(t *testing.T) {
	h, fb, _ := newTest(t, Options{})
	for _, tc := range []struct{ path, body, sent string }{
		{"/api/publish", `{"data":"hi"}`, `all "hi" false`},
		{"/api/publish", `{"data":"AAH/","binary":true}`, `all "\x00\x01\xff" true`},
		{"/api/publish", `{"data":"hi","room":"lobby","exclude":"h-1-1"}`, `room lobby "hi" ex=h-1-1`},
		{"/api/publish", `{"data":"hi","user":"ann"}`, `user ann "hi"`},
		{"/api/publish", `{"data":"hi","conn":"h-1-1"}`, `conn h-1-1 "hi"`},
		{"/api/close", `{"conn":"h-1-1"}`, `cmd h-1-1 {Join: Leave: Bind: Since: Unbind:false Reply: Close:true Code:1000 Reason:}`},
		{"/api/close", `{"conn":"h-1-1","code":4000,"reason":"bye"}`, `cmd h-1-1 {Join: Leave: Bind: Since: Unbind:false Reply: Close:true Code:4000 Reason:bye}`},
		{"/api/join", `{"conn":"h-1-1","room":"r"}`, `cmd h-1-1 {Join:r Leave: Bind: Since: Unbind:false Reply: Close:false Code:0 Reason:}`},
		{"/api/leave", `{"conn":"h-1-1","room":"r"}`, `cmd h-1-1 {Join: Leave:r Bind: Since: Unbind:false Reply: Close:false Code:0 Reason:}`},
		{"/api/bind", `{"conn":"h-1-1","user":"u"}`, `cmd h-1-1 {Join: Leave: Bind:u Since: Unbind:false Reply: Close:false Code:0 Reason:}`},
		{"/api/unbind", `{"conn":"h-1-1"}`, `cmd h-1-1 {Join: Leave: Bind: Since: Unbind:true Reply: Close:false Code:0 Reason:}`},
	} {
		fb.sent = nil
		w := call(h, "POST", tc.path, "k", tc.body)
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"ok":true}` {
			t.Fatalf("%s %s: %d %s", tc.path, tc.body, w.Code, w.Body)
		}
		if len(fb.sent) != 1 || fb.sent[0] != tc.sent {
			t.Fatalf("%s %s sent %q, want %q", tc.path, tc.body, fb.sent, tc.sent)
		}
	}
}

func TestQuestions(t *testing.T) {
	h, _, _ := newTest(t, Options{})
	for _, tc := range []struct{ method, path, body, want string }{
		{"GET", "/api/online?user=ann", "", `{"conns":["h-1-1","h-2-5"],"online":true}`},
		{"POST", "/api/online", `{"user":"bob"}`, `{"conns":[],"online":false}`},
		{"GET", "/api/count", "", `{"count":7}`},
		{"POST", "/api/count", `{"room":"r"}`, `{"count":2}`},
		{"GET", "/api/members?room=r", "", `{"count":2,"members":[{"conn":"h-1-1","user":"ann"},{"conn":"h-1-2"}]}`},
	} {
		w := call(h, tc.method, tc.path, "k", tc.body)
		if w.Code != 200 || strings.TrimSpace(w.Body.String()) != tc.want {
			t.Fatalf("%s %s: %d %s, want %s", tc.method, tc.path, w.Code, w.Body, tc.want)
		}
	}
}

func TestRefusals(t *testing.T) {
	h, fb, _ := newTest(t, Options{MaxBody: 100})
	for _, tc := range []struct {
		method, path, key, ctype, body string
		want                           int
	}{
		{"POST", "/api/publish", "", "application/json", `{"data":"x"}`, 401},
		{"POST", "/api/publish", "K", "application/json", `{"data":"x"}`, 401},
		{"POST", "/api/publish", "k", "text/plain", `{"data":"x"}`, 415},
		{"POST", "/api/publish", "k", "", `{"data":"x"}`, 415},
		{"POST", "/api/publish", "k", "application/json", `{"data":"` + strings.Repeat("x", 100) + `"}`, 413},
		{"POST", "/api/publish", "k", "application/json", `{"data":"x"} {}`, 400},
		{"POST", "/api/publish", "k", "application/json", ``, 400},
		{"POST", "/api/publish", "k", "application/json", `{"data":"x","room":""}` + strings.Repeat(" ", 90), 413},
		{"GET", "/api/publish", "k", "", ``, 405},
		{"PUT", "/api/online", "k", "", ``, 405},
		{"GET", "/api/members", "k", "", ``, 400},
		{"POST", "/api/join", "k", "application/json", `{"conn":"h-1-1"}`, 400},
		{"POST", "/api/bind", "k", "application/json", `{"conn":"nope","user":"u"}`, 400},
		{"POST", "/api/close", "k", "application/json", `{"conn":"h-1-1","code":1006}`, 400},
		{"POST", "/api/nothing", "k", "application/json", `{}`, 404},
	} {
		r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
		if tc.key != "" {
			r.Header.Set("X-API-Key", tc.key)
		}
		if tc.ctype != "" {
			r.Header.Set("Content-Type", tc.ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var e struct{ Error string }
		if w.Code != tc.want || json.Unmarshal(w.Body.Bytes(), &e) != nil || e.Error == "" {
			t.Fatalf("%s %s %q: %d %s, want %d with an error", tc.method, tc.path, tc.body, w.Code, w.Body, tc.want)
		}
	}
	if len(fb.sent) != 0 {
		t.Fatalf("refused requests sent %q", fb.sent)
	}
}

// TestInFlightBound: beyond MaxInFlight requests at once, 429.
func TestInFlightBound(t *testing.T) {
	block := make(chan struct{})
	h, _, _ := newTest(t, Options{MaxInFlight: 2, Presence: fakePresence{block: block}})
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for range 2 {
		wg.Go(func() { codes <- call(h, "GET", "/api/count", "k", "").Code })
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(h.inFlight) < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // until both hold their slot
	}
	if w := call(h, "GET", "/api/count", "k", ""); w.Code != http.StatusTooManyRequests {
		t.Fatalf("third request: %d %s, want 429", w.Code, w.Body)
	}
	close(block)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 200 {
			t.Fatalf("a request in flight got %d", c)
		}
	}
	if w := call(h, "GET", "/api/count", "k", ""); w.Code != 200 {
		t.Fatalf("after: %d", w.Code)
	}
}

// TestRefusedLogLimited: a flood of bad keys writes one line a second,
// then one that counts the rest.
func TestRefusedLogLimited(t *testing.T) {
	h, _, logs := newTest(t, Options{})
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	for range 100 {
		call(h, "GET", "/api/count", "bad", "")
	}
	if n := strings.Count(logs.String(), "X-API-Key"); n != 1 {
		t.Fatalf("%d log lines for 100 refusals in one second:\n%s", n, logs)
	}
	now = now.Add(time.Second)
	call(h, "GET", "/api/count", "", "")
	if n := strings.Count(logs.String(), "X-API-Key"); n != 2 || !strings.Contains(logs.String(), "suppressed=99") {
		t.Fatalf("after a second: %d lines, want 2 with suppressed=99:\n%s", n, logs)
	}
}

func TestSetKey(t *testing.T) {
	h, _, _ := newTest(t, Options{})
	h.SetKey("new")
	if w := call(h, "GET", "/api/count", "k", ""); w.Code != 401 {
		t.Fatalf("old key: %d", w.Code)
	}
	if w := call(h, "GET", "/api/count", "new", ""); w.Code != 200 {
		t.Fatalf("new key: %d", w.Code)
	}
	if _, err := New(Options{Bus: &fakeBus{}, Presence: fakePresence{}}); err == nil {
		t.Fatal("New with an empty key succeeded")
	}
}
