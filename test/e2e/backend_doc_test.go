package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/nats-io/nats.go"
)

// natsCLIVersion is the nats command-line tool the Makefile installs into
// bin/ for TestBackendDocCLI.
const natsCLIVersion = "v0.5.0"

// natsCLI is the nats tool: $WSFLEET_E2E_NATS_CLI, or bin/nats, which `make
// test` installs. Its absence fails the test, naming how to get it.
func natsCLI(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("WSFLEET_E2E_NATS_CLI"); p != "" {
		return p
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(root, "bin", "nats")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("this test runs docs/backend.md's examples with the nats tool at %s, which `make test` installs "+
			"(GOBIN=$PWD/bin go install github.com/nats-io/natscli/nats@%s): %v", p, natsCLIVersion, err)
	}
	out, err := exec.Command(p, "--version").Output()
	if v := strings.TrimSpace(string(out)); err != nil || v != natsCLIVersion {
		t.Fatalf("%s --version: %q (%v), want %s: remove it and run make test", p, v, err, natsCLIVersion)
	}
	return p
}

// docText is docs/backend.md.
func docText(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "backend.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// docCommands returns the `nats` command lines of docs/backend.md's shell
// blocks, split into words (the docs quote with single quotes only).
func docCommands(t *testing.T) [][]string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "docs", "backend.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][]string
	inShell := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inShell = line == "```sh"
		case inShell && strings.HasPrefix(line, "nats "):
			out = append(out, shellWords(t, line))
		}
	}
	return out
}

// shellWords splits a command line at spaces outside single quotes.
func shellWords(t *testing.T, line string) []string {
	var words []string
	var cur strings.Builder
	quoted, inWord := false, false
	for _, r := range line {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
			}
			inWord = false
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		t.Fatalf("docs/backend.md: unbalanced quote in %q", line)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestBackendDocCLI runs docs/backend.md's `nats` examples, as written
// there, with the real nats tool against a real cluster: the queue
// subscriber sees a client's events, and each publish does what the page
// says. The page's example ids (web1.4711, web1-4711-42) are replaced by
// the client's.
func TestBackendDocCLI(t *testing.T) {
	t.Parallel()
	cli := natsCLI(t)
	cmds := docCommands(t)
	find := func(parts ...string) []string {
		t.Helper()
		for _, c := range cmds {
			line := strings.Join(c, " ")
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return c
			}
		}
		t.Fatalf("docs/backend.md has no nats example with %q; this test runs each one", parts)
		return nil
	}
	sub := find("sub", "wsfleet.events.>")
	toAll, toRoom, toUser := find("pub", "wsfleet.all"), find("pub", "wsfleet.room.lobby"), find("pub", "wsfleet.user.ann")
	toConn := find("pub", "Wsfleet-Conn:", "hello you")
	join, closeCmd := find("Wsfleet-Join:lobby"), find("Wsfleet-Close:4000")

	c := startCluster(t, clusterOpts{count: 1, app: "none", extra: []string{"-events"}})
	url := c.status().Master.NATSURL // with the backend account's credentials
	// The tool logs in as the page says: NATS_USER and NATS_PASSWORD in its
	// environment, the server's URL without them.
	if !strings.Contains(docText(t), `export NATS_USER=backend NATS_PASSWORD="$(cat backend.secret)"`) {
		t.Fatal("docs/backend.md no longer says how a backend logs in (export NATS_USER=backend NATS_PASSWORD=...)")
	}
	plain := strings.Replace(url, "backend:"+backendSecret+"@", "", 1)
	natsCmd := func(args ...string) *exec.Cmd {
		cmd := exec.Command(cli, append([]string{"--server", plain}, args...)...)
		cmd.Env = append(os.Environ(), "NATS_USER=backend", "NATS_PASSWORD="+backendSecret)
		return cmd
	}
	run := func(args []string, conn backendEvent) {
		t.Helper()
		var a []string
		for _, w := range args[1:] {
			w = strings.ReplaceAll(w, "web1.4711", fmt.Sprintf("%s.%d", conn.Worker.Node, conn.Worker.PID))
			a = append(a, strings.ReplaceAll(w, "web1-4711-42", conn.Conn))
		}
		if out, err := natsCmd(a...).CombinedOutput(); err != nil {
			t.Fatalf("nats %s: %v\n%s", strings.Join(a, " "), err, out)
		}
	}

	// The subscriber, as the page runs it; each event's subject and JSON
	// payload come out of its output.
	type received struct {
		subject string
		ev      backendEvent
	}
	cmd := natsCmd(sub[1:]...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	evs := make(chan received, 64)
	go func() {
		defer close(evs)
		sc := bufio.NewScanner(stdout)
		subject := ""
		for sc.Scan() {
			line := sc.Text()
			if _, s, ok := strings.Cut(line, "] Received on "); ok {
				subject = strings.Trim(s, `"`)
				continue
			}
			if strings.HasPrefix(line, "{") && subject != "" {
				var ev backendEvent
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Errorf("event on %s: %q: %v", subject, line, err)
				}
				evs <- received{subject, ev}
				subject = ""
			}
		}
	}()
	next := func(subject string) backendEvent {
		t.Helper()
		for {
			select {
			case r, ok := <-evs:
				if !ok {
					t.Fatalf("nats sub ended before an event on %s", subject)
				}
				if r.subject == subject {
					return r.ev
				}
			case <-time.After(expectTimeout):
				t.Fatalf("nats sub printed no event on %s", subject)
			}
		}
	}
	// The subscription is live once it prints what we publish.
	nc := natsConnect(t, url)
	waitFor(t, expectTimeout, func() error {
		if err := nc.Publish("wsfleet.events.probe", []byte(`{"conn":"probe"}`)); err != nil {
			return err
		}
		select {
		case r := <-evs:
			if r.subject == "wsfleet.events.probe" {
				return nil
			}
		case <-time.After(200 * time.Millisecond):
		}
		return fmt.Errorf("nats sub has not printed the probe")
	})

	cl := c.dial()
	conn := next("wsfleet.events.open")
	if conn.Conn == "" || conn.Worker.PID == 0 {
		t.Fatalf("open event %+v", conn)
	}
	// Join and bind take effect once the worker has subscribed, so publish
	// until the message arrives (docs/backend.md, Delivery). The page's
	// command examples join; binding is the same command with another
	// header, sent here through the client library.
	run(join, conn)
	bind := nats.Header{"Wsfleet-Conn": {conn.Conn}, "Wsfleet-Bind": {"ann"}}
	if err := nc.PublishMsg(&nats.Msg{Subject: fmt.Sprintf("wsfleet.conn.%s.%d", conn.Worker.Node, conn.Worker.PID), Header: bind}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	arrives := func(cmd []string) {
		t.Helper()
		want := cmd[len(cmd)-1]
		waitFor(t, expectTimeout, func() error {
			run(cmd, conn)
			ev, err := cl.readMessage(300 * time.Millisecond)
			for err == nil && seen[string(ev.data)] {
				ev, err = cl.readMessage(300 * time.Millisecond)
			}
			if err != nil {
				return err
			}
			if ev.op != ws.OpText || string(ev.data) != want {
				return fmt.Errorf("got op %d %q, want %q", ev.op, ev.data, want)
			}
			return nil
		})
		seen[want] = true
	}
	arrives(toRoom)
	arrives(toUser)
	arrives(toAll)
	arrives(toConn)
	run(closeCmd, conn)
	if ev := cl.expectClose(expectTimeout, 4000); ev.reason != "bye" {
		t.Errorf("close reason %q, want \"bye\"", ev.reason)
	}
	if ev := next("wsfleet.events.close"); ev.Conn != conn.Conn || ev.Code != 4000 || ev.UID != "ann" || fmt.Sprint(ev.Rooms) != "[lobby]" {
		t.Errorf("close event %+v", ev)
	}
}
