package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: `master version` prints the build (devel and the VCS
// revision unless stamped; the Makefile's -X stamp when it is), the Go
// version, and status shows the running master's.
func TestVersion(t *testing.T) {
	out, errOut, code := cli(t, "version", "-json")
	if code != 0 {
		t.Fatalf("version -json exited %d: %s", code, errOut)
	}
	var b struct {
		Version   string `json:"version"`
		GoVersion string `json:"go_version"`
	}
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("version -json: %v in %q", err, out)
	}
	if !strings.HasPrefix(b.Version, "devel") || b.GoVersion != runtime.Version() {
		t.Fatalf("version -json = %+v; want devel..., %s", b, runtime.Version())
	}
	text, _, _ := cli(t, "version")
	if !strings.Contains(text, b.Version) || !strings.Contains(text, b.GoVersion) {
		t.Fatalf("version: %q lacks %q or %q", text, b.Version, b.GoVersion)
	}

	c := startCluster(t, clusterOpts{count: 1})
	var st struct {
		Master struct {
			Version   string `json:"version"`
			GoVersion string `json:"go_version"`
		} `json:"master"`
	}
	if err := json.Unmarshal([]byte(c.mustCLI("status", "-json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Master.Version != b.Version || st.Master.GoVersion != b.GoVersion {
		t.Fatalf("status -json shows %+v, want %+v", st.Master, b)
	}
	if s := c.mustCLI("status"); !strings.Contains(s, "version "+b.Version) {
		t.Fatalf("status does not show the version:\n%s", s)
	}

	// The Makefile's stamp.
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "master")
	build := exec.Command("go", "build", "-ldflags", "-X github.com/wsfleet/wsfleet/internal/version.stamped=v9.8.7-test", "-o", bin, "./cmd/master")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, _, code, err = runProgram(cliTimeout, bin, "version")
	if err != nil || code != 0 || !strings.HasPrefix(out, "master v9.8.7-test ("+runtime.Version()) {
		t.Fatalf("stamped version: %q (exit %d, %v)", out, code, err)
	}
	mk, err := exec.Command("grep", "-c", "internal/version.stamped=$(VERSION)", filepath.Join(root, "Makefile")).Output()
	if err != nil || strings.TrimSpace(string(mk)) == "0" {
		t.Fatalf("the Makefile does not stamp the version (%v)", err)
	}
}
