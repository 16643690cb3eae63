package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// The examples are built as a user builds a program on wsfleet: the
// example's main.go alone, in a module of its own outside this repository,
// which requires github.com/wsfleet/wsfleet with a replace to this checkout.
// Only the public API compiles there. Each runs as `start -d -count 4`,
// answers real clients, is rebuilt with a changed reply, replaced on disk
// and reloaded (the new reply is served), and stops, leaving nothing.

// examples counts the example builds, naming their binaries apart.
var examples atomic.Int32

// buildExample builds examples/<name> in a module of its own, after edit
// (if any) has changed its source, into binDir (so that a failed run's
// leftovers are killed) and returns the binary's path.
func buildExample(t *testing.T, name string, edit func(src string) string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "examples", name, "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		changed := edit(string(src))
		if changed == string(src) {
			t.Fatalf("the edit changed nothing in examples/%s", name)
		}
		src = []byte(changed)
	}
	mod := t.TempDir()
	gomod := fmt.Sprintf("module example.com/%s\n\ngo 1.26\n\nrequire github.com/wsfleet/wsfleet v0.0.0-00010101000000-000000000000\n\nreplace github.com/wsfleet/wsfleet => %s\n", name, root)
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for file, data := range map[string][]byte{"main.go": src, "go.mod": []byte(gomod), "go.sum": sum} {
		if err := os.WriteFile(filepath.Join(mod, file), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(binDir, fmt.Sprintf("%s-%d", name, examples.Add(1)))
	args := []string{"build", "-mod=mod"}
	if os.Getenv("WSFLEET_E2E_RACE") == "1" {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "-o", bin, ".")...)
	cmd.Dir = mod
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build examples/%s in its own module: %v\n%s", name, err, out)
	}
	return bin
}

// program runs bin with args to completion and fails the test unless it
// exits 0; it returns what bin printed.
func program(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, errOut, code, err := runProgram(cliTimeout, bin, args...)
	if err != nil || code != 0 {
		t.Fatalf("%s %s: exit %d (%v)\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), code, err, out, errOut)
	}
	return out
}

// replaceBinary renames next over bin, as a deploy does: running processes
// keep the file they started from, and the next start runs next.
func replaceBinary(t *testing.T, next, bin string) {
	t.Helper()
	if err := os.Rename(next, bin); err != nil {
		t.Fatal(err)
	}
}

// startExample starts bin as a daemon of 4 workers on c's address and pid
// file, with its own flags extra, and waits until every worker runs.
func startExample(t *testing.T, c *cluster, bin string, extra ...string) {
	t.Helper()
	args := append([]string{"start", "-d", "-count", "4", "-listen", c.addr, "-pid-file", c.pidFile,
		"-nats-listen", "127.0.0.1:0"}, extra...)
	out := program(t, bin, args...)
	mustContain(t, "start -d", out, "started")
	c.waitRunning(readyTimeout)
}

// reloadExample rebuilds, replaces bin and reloads; it returns once every
// worker is a new process running the new file.
func reloadExample(t *testing.T, c *cluster, bin, next string) {
	t.Helper()
	old := map[int]bool{}
	for _, w := range c.status().Workers {
		old[w.PID] = true
	}
	replaceBinary(t, next, bin)
	program(t, bin, "reload", "-pid-file", c.pidFile)
	st := c.waitRunning(readyTimeout)
	for _, w := range st.Workers {
		if old[w.PID] {
			t.Fatalf("worker %d survived the reload", w.PID)
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", w.PID)); err != nil || exe != bin {
			t.Errorf("worker %d runs %q (%v), want the replaced %s", w.PID, exe, err, bin)
		}
	}
}

// TestExampleTutorial: the tutorial's second server, as a user's program.
func TestExampleTutorial(t *testing.T) {
	t.Parallel()
	bin := buildExample(t, "tutorial", nil)
	next := buildExample(t, "tutorial", func(src string) string {
		return strings.Replace(src, `"服務器已經收到了你的消息"`, `"服務器已經收到了你的消息 (v2)"`, 1)
	})
	c := newCluster(t, clusterOpts{count: 4})
	startExample(t, c, bin, "-push-every", "1s") // the program's own flag
	if st := c.status(); st.Master.App != filepath.Base(bin) {
		t.Errorf("status names the app %q, want the program's name %q", st.Master.App, filepath.Base(bin))
	}

	cl := c.dial()
	cl.send("hello from the test")
	waitMessage(t, cl, "服務器已經收到了你的消息")
	waitFor(t, 10*time.Second, func() error { // printed by a worker, as the PHP `echo $data`
		if b, _ := os.ReadFile(filepath.Join(c.dir, "master.log")); !strings.Contains(string(b), "hello from the test\n") {
			return fmt.Errorf("the message is not in the log")
		}
		return nil
	})
	waitMessage(t, cl, "你好!") // the push, every -push-every

	// The program opts in to the hand-off: the open connection moves to
	// the new build and gets its answer.
	reloadExample(t, c, bin, next)
	cl.send("again")
	waitMessage(t, cl, "服務器已經收到了你的消息 (v2)")
	nc := c.dial()
	nc.send("and again")
	waitMessage(t, nc, "服務器已經收到了你的消息 (v2)")
	program(t, bin, "stop", "-pid-file", c.pidFile)
	cl.expectClose(readyTimeout, 1001)
	nc.expectClose(readyTimeout, 1001)
	c.waitGone(readyTimeout) // every process it ever ran, and its pid file
}

// waitMessage reads cl's messages until one is want, skipping others (the
// pushes come at any time); it fails after 15 s.
func waitMessage(t *testing.T, cl *wsClient, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ev, err := cl.readMessage(time.Until(deadline))
		if err != nil {
			t.Fatalf("waiting for %q: %v", want, err)
		}
		if string(ev.data) == want {
			return
		}
	}
}

// chatEvent is examples/gateway's protocol.
type chatEvent struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	Room string `json:"room,omitempty"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Text string `json:"text,omitempty"`
}

func sendEvent(t *testing.T, cl *wsClient, e chatEvent) {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	cl.send(string(b))
}

// expectEvent reads cl's next message and checks it is want.
func expectEvent(t *testing.T, cl *wsClient, want chatEvent) {
	t.Helper()
	ev, err := cl.readMessage(15 * time.Second)
	if err != nil {
		t.Fatalf("waiting for %+v: %v", want, err)
	}
	var got chatEvent
	if err := json.Unmarshal(ev.data, &got); err != nil || got != want {
		t.Fatalf("got %s (%v), want %+v", ev.data, err, want)
	}
}

// TestExampleGateway: a GatewayWorker-style chat, as a user's program:
// login, rooms, whispers and leaves across the workers, the program's own
// flag in every worker, the room from the handshake's query.
func TestExampleGateway(t *testing.T) {
	t.Parallel()
	bin := buildExample(t, "gateway", nil)
	next := buildExample(t, "gateway", func(src string) string {
		return strings.Replace(src, `event{Type: "say", From: me.name, Text: e.Text}`, `event{Type: "say", From: me.name, Text: "v2: " + e.Text}`, 1)
	})
	c := newCluster(t, clusterOpts{count: 4})
	startExample(t, c, bin, "-welcome", "welcome, tester")

	join := func(room string) *wsClient {
		cl := dialWSWith(t, c.addr, "/?room="+room, ws.HandshakeHeaderHTTP(nil))
		expectEvent(t, cl, chatEvent{Type: "welcome", Text: "welcome, tester", Room: room})
		return cl
	}
	ann, tom, bob := join("r1"), join("r1"), join("r2")
	sendEvent(t, ann, chatEvent{Type: "login", Name: "ann"})
	expectEvent(t, ann, chatEvent{Type: "login", Name: "ann", Room: "r1"})
	sendEvent(t, tom, chatEvent{Type: "login", Name: "tom"})
	for _, cl := range []*wsClient{ann, tom} {
		expectEvent(t, cl, chatEvent{Type: "login", Name: "tom", Room: "r1"})
	}
	sendEvent(t, bob, chatEvent{Type: "login", Name: "bob"})
	expectEvent(t, bob, chatEvent{Type: "login", Name: "bob", Room: "r2"})

	sendEvent(t, tom, chatEvent{Type: "say", Text: "hi r1"})
	for _, cl := range []*wsClient{ann, tom} {
		expectEvent(t, cl, chatEvent{Type: "say", From: "tom", Text: "hi r1"})
	}
	sendEvent(t, bob, chatEvent{Type: "whisper", To: "ann", Text: "psst"})
	expectEvent(t, ann, chatEvent{Type: "whisper", From: "bob", Text: "psst"})
	tom.close()
	expectEvent(t, ann, chatEvent{Type: "logout", Name: "tom"})
	// bob, in r2, heard nothing of r1: his next message is his own say.
	sendEvent(t, bob, chatEvent{Type: "say", Text: "anyone?"})
	expectEvent(t, bob, chatEvent{Type: "say", From: "bob", Text: "anyone?"})

	reloadExample(t, c, bin, next)
	for _, cl := range []*wsClient{ann, bob} {
		cl.expectClose(readyTimeout, statusServiceRestart)
	}
	eve := join("r3")
	sendEvent(t, eve, chatEvent{Type: "login", Name: "eve"})
	expectEvent(t, eve, chatEvent{Type: "login", Name: "eve", Room: "r3"})
	sendEvent(t, eve, chatEvent{Type: "say", Text: "new code?"})
	expectEvent(t, eve, chatEvent{Type: "say", From: "eve", Text: "v2: new code?"})
	program(t, bin, "stop", "-pid-file", c.pidFile)
	c.waitGone(readyTimeout) // every process it ever ran, and its pid file
}
