package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startPHPEvents runs examples/php/events.php under PHP's built-in web
// server, as the file's header says, and returns its URL once it answers.
func startPHPEvents(t *testing.T, env ...string) string {
	t.Helper()
	php, err := exec.LookPath("php")
	if err != nil {
		t.Fatalf("this test runs examples/php/events.php with php-cli (Debian's php-cli package): %v", err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	out, err := os.Create(filepath.Join(t.TempDir(), "php.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(php, "-S", addr, "events.php")
	cmd.Dir = filepath.Join(root, "examples", "php")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("php -S: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		out.Close()
		if t.Failed() {
			b, _ := os.ReadFile(out.Name())
			t.Logf("==== php -S output ====\n%s", b)
		}
	})
	url := "http://" + addr + "/"
	waitFor(t, 10*time.Second, func() error {
		resp, err := http.Get(url) // events.php answers GET with 405
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			return fmt.Errorf("GET %s: %s, want 405", url, resp.Status)
		}
		return nil
	})
	return url
}

// TestWebhookPHP runs examples/php/events.php against a cluster of the
// "none" application: a connection without a valid token is refused with
// 4003, one with it is welcomed, answered "hello ..." and chats in a room.
func TestWebhookPHP(t *testing.T) {
	const secret = "php-events-test-secret"
	url := startPHPEvents(t, "EVENTS_SECRET="+secret)
	c := startCluster(t, clusterOpts{count: 2, app: "none", extra: []string{"-webhook", url}})
	token := func(user string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(user))
		return hex.EncodeToString(m.Sum(nil))
	}

	for _, path := range []string{"/", "/?user=alice", "/?user=alice&token=" + token("bob")} {
		cl := dialWSWith(t, c.addr, path, nil)
		if ev := cl.expectClose(10*time.Second, 4003); ev.reason != "bad token" {
			t.Errorf("%s: close reason %q, want %q", path, ev.reason, "bad token")
		}
	}

	alice := dialWSWith(t, c.addr, "/?user=alice&token="+token("alice"), nil)
	alice.expect("welcome alice")
	alice.send("hi there")
	alice.expect("hello hi there")

	bob := dialWSWith(t, c.addr, "/?user=bob&token="+token("bob"), nil)
	bob.expect("welcome bob")
	for _, cl := range []*wsClient{alice, bob} {
		cl.send("join lobby")
		cl.expect("joined lobby")
	}
	bob.send("room lobby hello everyone")
	alice.expect("bob: hello everyone")
	bob.expect("bob: hello everyone")
}
