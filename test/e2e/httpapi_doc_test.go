package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// apiDocCurls returns the curl command lines of docs/backend.md's "HTTP
// API" section, in order.
func apiDocCurls(t *testing.T) []string {
	t.Helper()
	doc := docText(t)
	_, sec, ok := strings.Cut(doc, "\n## HTTP API\n")
	if !ok {
		t.Fatal(`docs/backend.md has no "## HTTP API" section`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	var out []string
	inShell := false
	for _, line := range strings.Split(sec, "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inShell = line == "```sh"
		case inShell && strings.HasPrefix(line, "curl "):
			out = append(out, line)
		}
	}
	return out
}

// TestHTTPAPIDocCurl runs docs/backend.md's curl examples, as written there
// (with `sh`, from a directory holding api.key), against a real cluster,
// and checks that each does what the page says. The page's address and
// connection id are replaced by the cluster's and the client's.
func TestHTTPAPIDocCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatalf("curl is needed to run docs/backend.md's examples: %v", err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "api.key")
	if err := os.WriteFile(keyFile, []byte("doc-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := freeAddr(t)
	c := startCluster(t, clusterOpts{count: 1, extra: []string{"-admin-listen", admin, "-api-key-file", keyFile}})
	cl := c.dial()
	id := c.owners([]*wsClient{cl})[cl].ID
	run := func(line string) string {
		t.Helper()
		line = strings.ReplaceAll(strings.ReplaceAll(line, "127.0.0.1:9090", admin), "web1-4711-42", id)
		line = strings.Replace(line, "curl ", curl+" ", 1)
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
		return string(out)
	}
	ok := func(line string) { mustContain(t, line, run(line), `{"ok":true}`) }
	checks := []struct {
		match string
		check func(line string)
	}{
		{"api/bind", ok},
		{`"order shipped"}`, func(l string) { pushUntil(t, cl, "order shipped", func() { ok(l) }) }},
		{"api/join", ok},
		{`"hello lobby"}`, func(l string) { pushUntil(t, cl, "hello lobby", func() { ok(l) }) }},
		{`"hello everyone"}`, func(l string) { ok(l); waitMessage(t, cl, "hello everyone") }},
		{`"binary":true`, func(l string) { ok(l); waitMessage(t, cl, "\x00\x01\xff") }},
		{"api/online?user=ann", func(l string) { mustContain(t, l, run(l), `"online":true`, id) }},
		{"api/members?room=lobby", func(l string) { mustContain(t, l, run(l), `"count":1`, `"conn":"`+id+`","user":"ann"`) }},
		{"api/count?room=lobby", func(l string) { mustContain(t, l, run(l), `{"count":1}`) }},
		{"api/count\n", func(l string) { mustContain(t, l, run(l), `{"count":1}`) }},
		{"api/leave", func(l string) {
			ok(l)
			apiHost{t: t, addr: admin, key: "doc-key"}.waitMembers("lobby")
		}},
		{"api/unbind", func(l string) {
			ok(l)
			apiHost{t: t, addr: admin, key: "doc-key"}.waitOnline("ann")
		}},
		{"api/close", func(l string) {
			ok(l)
			if ev := cl.expectClose(readyTimeout, 4000); ev.reason != "bye" {
				t.Fatalf("close reason %q", ev.reason)
			}
		}},
	}
	lines := apiDocCurls(t)
	done := make([]bool, len(checks))
	for _, line := range lines {
		found := false
		for i, ch := range checks {
			if !done[i] && strings.Contains(line+"\n", ch.match) {
				ch.check(line)
				done[i], found = true, true
				break
			}
		}
		if !found {
			t.Fatalf("docs/backend.md: this test does not know the example %q: teach it", line)
		}
	}
	for i, d := range done {
		if !d {
			t.Fatalf("docs/backend.md: no curl example with %q", checks[i].match)
		}
	}
}
