package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestReloadHandoffNewBuild: the worker binary on disk is replaced by a
// rebuilt one whose echo answers differently (pkg/app/builtin.go patched
// through `go build -overlay`, and stamped with its own version); after
// `reload` with -handoff the same connections, never closed, get the new
// answers, and `status` names the new build for the workers.
func TestReloadHandoffNewBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	worker := filepath.Join(dir, "worker")
	copyFile(t, workerBin, worker, 0o755)
	c := startCluster(t, clusterOpts{count: 2, extra: []string{"-handoff", "-worker-bin", worker}})
	before := c.status()
	clients := c.dialN(20)
	for _, cl := range clients {
		if err := cl.roundTrip("v1"); err != nil {
			t.Fatal(err)
		}
	}
	buildPatchedWorker(t, dir, worker)
	c.mustCLI("reload")
	waitReplaced(t, c, before, 60*time.Second)
	for i, cl := range clients {
		if err := cl.write(ws.OpText, []byte("v2")); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		ev, err := cl.readMessage(expectTimeout)
		if err != nil || string(ev.data) != "new build: hello v2" {
			t.Fatalf("client %d after the reload: %q %v", i, ev.data, err)
		}
	}
	out := c.mustCLI("status", "-json")
	var st struct {
		Workers []struct {
			PID   int    `json:"pid"`
			Build string `json:"build"`
		} `json:"workers"`
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatal(err)
	}
	for _, w := range st.Workers {
		if !strings.HasPrefix(w.Build, "handoff-v2 ") {
			t.Errorf("worker %d runs build %q, want handoff-v2", w.PID, w.Build)
		}
	}
	if text := c.mustCLI("status"); !strings.Contains(text, "runs build handoff-v2") {
		t.Errorf("status does not name the new build:\n%s", text)
	}
}

// buildPatchedWorker builds the worker with the echo app's answer changed
// and a version stamp, and renames it over path (running workers keep the
// file they started from).
func buildPatchedWorker(t *testing.T, dir, path string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "pkg", "app", "builtin.go")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	const from = "out = append(append(out, e.prefix...), m.Data...)"
	if !strings.Contains(string(b), from) {
		t.Fatalf("%s no longer holds %q: update this test", src, from)
	}
	patched := filepath.Join(dir, "builtin.go")
	body := strings.Replace(string(b), from, `out = append(append(append(out[:0:0], "new build: "...), e.prefix...), m.Data...)`, 1)
	if err := os.WriteFile(patched, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {src: patched}})
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o600); err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	cmd := exec.Command("go", "build", "-overlay", ov,
		"-ldflags", "-X github.com/wsfleet/wsfleet/internal/version.stamped=handoff-v2", "-o", tmp, "./cmd/worker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
