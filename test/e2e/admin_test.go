package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// adminGet GETs path on a cluster's admin listener and returns the status
// code and body.
func adminGet(t testing.TB, addr, path string) (int, string) {
	t.Helper()
	cl := &http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + addr + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// TestAdminLivez: -admin-listen serves /livez while the master runs, and
// nothing once it stopped; a bad -admin-listen is refused by name.
func TestAdminLivez(t *testing.T) {
	admin := freeAddr(t)
	c := startCluster(t, clusterOpts{count: 2, extra: []string{"-admin-listen", admin}})
	if code, body := adminGet(t, admin, "/livez"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/livez: %d %q, want 200 ok", code, body)
	}
	if code, _ := adminGet(t, admin, "/nothing"); code != http.StatusNotFound {
		t.Fatalf("/nothing: %d, want 404", code)
	}
	c.mustCLI("stop")
	c.waitGone(readyTimeout)
	if _, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + admin + "/livez"); err == nil {
		t.Fatal("/livez still answers after stop")
	}

	_, errOut, code := cli(t, "start", "-listen", freeAddr(t), "-admin-listen", "nonsense", "-pid-file", t.TempDir()+"/m.pid")
	if code == 0 {
		t.Fatal("start with -admin-listen nonsense succeeded")
	}
	mustContain(t, "start's error", errOut, "-admin-listen")
}
