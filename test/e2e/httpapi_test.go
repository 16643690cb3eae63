package e2e

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHTTPAPI: two hosts (two masters on loopback sharing one external
// NATS), each with its HTTP API. Whichever host is asked, publishing to a
// user, a room, a connection and everyone reaches the clients of both;
// join, leave, bind and unbind take effect; online, count and members
// answer for the whole cluster; close arrives with its code. A wrong or
// missing key gets 401 and a log line; the bounds answer 413, 415, 405 and
// 400; examples/php/push.php delivers; reload reads a new key.
func TestHTTPAPI(t *testing.T) {
	n := startNATS(t)
	keyFile := writeAPIKey(t, "  s3cret-key\n")
	adminA, adminB := freeAddr(t), freeAddr(t)
	ca := startCluster(t, clusterOpts{count: 2, nats: n.url(), extra: []string{"-admin-listen", adminA, "-api-key-file", keyFile}})
	cb := startCluster(t, clusterOpts{count: 2, nats: n.url(), extra: []string{"-admin-listen", adminB, "-api-key-file", keyFile}})
	apiA := apiHost{t: t, addr: adminA, key: "s3cret-key"}
	apiB := apiHost{t: t, addr: adminB, key: "s3cret-key"}

	a1, b1 := ca.dial(), cb.dial()
	idA := ca.owners([]*wsClient{a1})[a1].ID
	idB := cb.owners([]*wsClient{b1})[b1].ID

	// Counts over both hosts.
	waitFor(t, 10*time.Second, func() error {
		var got struct{ Count int }
		apiA.mustPost("/api/count", map[string]string{}, &got)
		if got.Count != 2 {
			return fmt.Errorf("count %d, want 2", got.Count)
		}
		return nil
	})

	// Bind on host B through host A's API; publish to the user through A.
	apiA.mustPost("/api/bind", map[string]string{"conn": idB, "user": "ann"}, nil)
	apiB.waitOnline("ann", idB)
	apiA.waitOnline("ann", idB)
	pushUntil(t, b1, "hello ann", func() { apiA.mustPost("/api/publish", map[string]string{"user": "ann", "data": "hello ann"}, nil) })

	// A room across both hosts.
	apiB.mustPost("/api/join", map[string]string{"conn": idA, "room": "lobby"}, nil)
	apiA.mustPost("/api/join", map[string]string{"conn": idB, "room": "lobby"}, nil)
	want := []string{idA, idB}
	if want[1] < want[0] {
		want[0], want[1] = want[1], want[0]
	}
	apiA.waitMembers("lobby", want...)
	apiB.waitMembers("lobby", want...)
	var rc struct{ Count int }
	code, body := apiB.do(http.MethodGet, "/api/count?room=lobby", apiB.key, "", nil)
	expectAPIStatus(t, "GET /api/count?room=lobby", code, body, http.StatusOK)
	mustContain(t, "room count", body, `"count":2`)
	pushUntil(t, a1, "hello lobby", func() { apiB.mustPost("/api/publish", map[string]string{"room": "lobby", "data": "hello lobby"}, nil) })
	waitMessage(t, b1, "hello lobby")
	apiA.mustPost("/api/members", map[string]string{"room": "nobody-here"}, &rc)
	if rc.Count != 0 {
		t.Fatalf("empty room: count %d", rc.Count)
	}

	// Leave: the room's messages stop; one connection and everyone.
	apiB.mustPost("/api/leave", map[string]string{"conn": idB, "room": "lobby"}, nil)
	apiA.waitMembers("lobby", idA)
	apiA.mustPost("/api/publish", map[string]string{"room": "lobby", "data": "after leave"}, nil)
	waitMessage(t, a1, "after leave")
	apiA.mustPost("/api/publish", map[string]string{"conn": idB, "data": "marker"}, nil)
	for ev := b1.nextMessage(10 * time.Second); string(ev.data) != "marker"; ev = b1.nextMessage(10 * time.Second) {
		if string(ev.data) == "after leave" {
			t.Fatal("b1 left lobby but got its message")
		}
	}
	apiB.mustPost("/api/publish", map[string]any{"data": "hello everyone"}, nil)
	waitMessage(t, a1, "hello everyone")
	waitMessage(t, b1, "hello everyone")
	bin := []byte{0, 1, 2, 0xff}
	apiB.mustPost("/api/publish", map[string]any{"conn": idA, "binary": true, "data": base64.StdEncoding.EncodeToString(bin)}, nil)
	a1.expectBinary(bin)

	// Unbind.
	apiB.mustPost("/api/unbind", map[string]string{"conn": idB}, nil)
	apiA.waitOnline("ann")

	// PHP's standard library, through host B, to a user on host A.
	apiB.mustPost("/api/bind", map[string]string{"conn": idA, "user": "bob"}, nil)
	apiA.waitOnline("bob", idA)
	php := phpPath(t)
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	pushPHP := func(admin, wantOut string, args ...string) {
		cmd := exec.Command(php, append([]string{filepath.Join(root, "examples/php/push.php")}, args...)...)
		cmd.Env = append(os.Environ(), "WS_API=http://"+admin, "WS_API_KEY_FILE="+keyFile)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), wantOut) {
			t.Fatalf("php push.php %q: %v: %s", args, err, out)
		}
	}
	pushUntil(t, a1, "order shipped", func() { pushPHP(adminB, "bob is online: sent", "user", "bob", "order shipped") })
	pushPHP(adminA, "sent", "room", "lobby", "php to lobby")
	waitMessage(t, a1, "php to lobby")
	pushPHP(adminB, "sent", "all", "php to everyone")
	waitMessage(t, a1, "php to everyone")
	waitMessage(t, b1, "php to everyone")

	checkAPIRefusals(t, ca, apiA, idA)

	// Close with a code, through the other host.
	apiA.mustPost("/api/close", map[string]any{"conn": idB, "code": 4000, "reason": "bye"}, nil)
	if ev := b1.expectClose(10*time.Second, 4000); ev.reason != "bye" {
		t.Fatalf("close reason %q, want bye", ev.reason)
	}

	// Reload reads the key file again.
	if err := os.WriteFile(keyFile, []byte("new-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ca.mustCLI("reload")
	code, body = apiA.do(http.MethodGet, "/api/count", "s3cret-key", "", nil)
	expectAPIStatus(t, "old key after reload", code, body, http.StatusUnauthorized)
	code, body = apiA.do(http.MethodGet, "/api/count", "new-key", "", nil)
	expectAPIStatus(t, "new key after reload", code, body, http.StatusOK)
}

// checkAPIRefusals: a wrong or missing key gets 401 and a log line (one a
// second at most); the bounds and bad requests get their 4xx.
func checkAPIRefusals(t *testing.T, c *cluster, api apiHost, conn string) {
	pub := []byte(`{"data":"x"}`)
	code, body := api.do(http.MethodPost, "/api/publish", "", "application/json", pub)
	expectAPIStatus(t, "no key", code, body, http.StatusUnauthorized)
	code, body = api.do(http.MethodPost, "/api/publish", "s3cret-kex", "application/json", pub)
	expectAPIStatus(t, "wrong key", code, body, http.StatusUnauthorized)
	waitFor(t, 5*time.Second, func() error {
		b, err := os.ReadFile(c.fgOut)
		if err != nil || !strings.Contains(string(b), "without the right X-API-Key") {
			return fmt.Errorf("no log line for the refused key in %s (%v)", c.fgOut, err)
		}
		return nil
	})

	big := []byte(`{"data":"` + strings.Repeat("x", 1<<20) + `"}`)
	code, body = api.do(http.MethodPost, "/api/publish", api.key, "application/json", big)
	expectAPIStatus(t, "body over 1 MiB", code, body, http.StatusRequestEntityTooLarge)
	code, body = api.do(http.MethodPost, "/api/publish", api.key, "text/plain", pub)
	expectAPIStatus(t, "text/plain", code, body, http.StatusUnsupportedMediaType)
	code, body = api.do(http.MethodGet, "/api/publish", api.key, "", nil)
	expectAPIStatus(t, "GET /api/publish", code, body, http.StatusMethodNotAllowed)
	code, body = api.do(http.MethodGet, "/api/nothing", api.key, "", nil)
	expectAPIStatus(t, "/api/nothing", code, body, http.StatusNotFound)
	for _, bad := range []map[string]any{
		{"data": "!!", "binary": true},
		{"data": "x", "room": "r", "user": "u"},
		{"data": "x", "conn": "not-an-id"},
		{"data": "x", "room": strings.Repeat("r", 1025)},
		{"data": "x", "nonsense": 1},
	} {
		code, body = api.post("/api/publish", bad)
		expectAPIStatus(t, fmt.Sprintf("publish %.60v", bad), code, body, http.StatusBadRequest)
	}
	for _, c := range []int{1005, 1006, 2000, 5000, -1} {
		code, body = api.post("/api/close", map[string]any{"conn": conn, "code": c})
		expectAPIStatus(t, fmt.Sprintf("close code %d", c), code, body, http.StatusBadRequest)
	}
	code, body = api.post("/api/online", map[string]any{})
	expectAPIStatus(t, "online without user", code, body, http.StatusBadRequest)
}

// phpPath is the php command line, which the PHP example needs.
func phpPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("php (Debian's php-cli) is needed to run examples/php: %v", err)
	}
	return p
}

// TestHTTPAPIKeyFile: start refuses an empty key file, one others may read,
// and -api-key-file without -admin-listen, naming the flag.
func TestHTTPAPIKeyFile(t *testing.T) {
	empty := writeAPIKey(t, " \n")
	open := writeAPIKey(t, "k")
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		what string
		args []string
		want string
	}{
		{"empty key file", []string{"-admin-listen", freeAddr(t), "-api-key-file", empty}, "is empty"},
		{"key file others may read", []string{"-admin-listen", freeAddr(t), "-api-key-file", open}, "chmod 600"},
		{"no admin listener", []string{"-api-key-file", writeAPIKey(t, "k")}, "needs -admin-listen"},
	} {
		args := append([]string{"start", "-listen", freeAddr(t), "-pid-file", filepath.Join(t.TempDir(), "m.pid")}, tc.args...)
		_, errOut, code := cli(t, args...)
		if code == 0 {
			t.Fatalf("%s: start succeeded", tc.what)
		}
		mustContain(t, tc.what, errOut, "-api-key-file", tc.want)
	}
}
