package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// apiHost is one host's HTTP API (-admin-listen with -api-key-file).
type apiHost struct {
	t    *testing.T
	addr string // the admin listener
	key  string
}

// writeAPIKey writes key to a 0600 file in a temp dir and returns its path.
func writeAPIKey(t *testing.T, key string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.key")
	if err := os.WriteFile(path, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// do sends one request and returns the status and body.
func (a apiHost) do(method, path, key, contentType string, body []byte) (int, string) {
	a.t.Helper()
	req, err := http.NewRequest(method, "http://"+a.addr+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}

// post POSTs v as JSON with the right key.
func (a apiHost) post(path string, v any) (int, string) {
	a.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.do(http.MethodPost, path, a.key, "application/json", b)
}

// mustPost POSTs v and fails unless the answer is 200; it decodes the
// answer into out when out is not nil.
func (a apiHost) mustPost(path string, v, out any) {
	a.t.Helper()
	code, body := a.post(path, v)
	if code != http.StatusOK {
		a.t.Fatalf("POST %s %v: %d %s", path, v, code, body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			a.t.Fatalf("POST %s: answer %q: %v", path, body, err)
		}
	}
}

// expectAPIStatus fails unless a request got code, with an {"error"} body
// for an error.
func expectAPIStatus(t *testing.T, what string, code int, body string, want int) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: %d %s, want %d", what, code, body, want)
	}
	if want >= 400 {
		var e struct{ Error string }
		if json.Unmarshal([]byte(body), &e) != nil || e.Error == "" {
			t.Fatalf("%s: body %q is not {\"error\": ...}", what, body)
		}
	}
}

// onlineAnswer is /api/online's answer.
type onlineAnswer struct {
	Online bool     `json:"online"`
	Conns  []string `json:"conns"`
}

// membersAnswer is /api/members's answer.
type membersAnswer struct {
	Count   int `json:"count"`
	Members []struct {
		Conn string `json:"conn"`
		User string `json:"user"`
	} `json:"members"`
}

// waitOnline waits until a says uid's connections are exactly want.
func (a apiHost) waitOnline(uid string, want ...string) {
	a.t.Helper()
	waitFor(a.t, 10*time.Second, func() error {
		var got onlineAnswer
		a.mustPost("/api/online", map[string]string{"user": uid}, &got)
		if got.Online != (len(want) > 0) || fmt.Sprint(got.Conns) != fmt.Sprint(want) {
			return fmt.Errorf("online %s: %+v, want %v", uid, got, want)
		}
		return nil
	})
}

// waitMembers waits until a lists exactly want (ordered ids) in room.
func (a apiHost) waitMembers(room string, want ...string) {
	a.t.Helper()
	waitFor(a.t, 10*time.Second, func() error {
		var got membersAnswer
		a.mustPost("/api/members", map[string]string{"room": room}, &got)
		ids := make([]string, len(got.Members))
		for i, m := range got.Members {
			ids[i] = m.Conn
		}
		if got.Count != len(want) || fmt.Sprint(ids) != fmt.Sprint(want) {
			return fmt.Errorf("members of %s: %+v, want %v", room, got, want)
		}
		return nil
	})
}

// pushUntil calls send until cl gets the text want: a join or a bind takes
// effect once the worker has subscribed, which no answer reports, so the
// first message may be missed (docs/backend.md, "Delivery").
func pushUntil(t *testing.T, cl *wsClient, want string, send func()) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		send()
		for {
			ev, err := cl.readMessage(300 * time.Millisecond)
			if err != nil {
				break
			}
			if string(ev.data) == want {
				return
			}
		}
	}
	t.Fatalf("client %s never got %q", cl.local, want)
}
