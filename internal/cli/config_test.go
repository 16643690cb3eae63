package cli

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestReplayArgs(t *testing.T) {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("d", false, "")
	fs.Bool("check", false, "")
	fs.String("config", "", "")
	fs.String("echo-prefix", "> ", "")
	fs.Duration("grace", time.Second, "")
	fs.Int("count", 4, "")
	if err := fs.Parse([]string{"-d", "-config", "/etc/w.toml", "-echo-prefix", "-d", "-check"}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Set("grace", "5s"); err != nil { // as the file or environment would
		t.Fatal(err)
	}
	got := replayArgs(fs)
	want := []string{"-echo-prefix=-d", "-grace=5s"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// TestServicePIDFile: a verb told nothing uses the default pid file when
// there is one, else the systemd service's when there is one, else the
// default (whose absence it then reports).
func TestServicePIDFile(t *testing.T) {
	dir := t.TempDir()
	def, svc := filepath.Join(dir, "user", "master.pid"), filepath.Join(dir, "run", "master.pid")
	if got := servicePIDFile(def, svc); got != def {
		t.Errorf("neither exists: %s, want the default", got)
	}
	for _, p := range []string{svc, def} {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		want := p
		if got := servicePIDFile(def, svc); got != want {
			t.Errorf("with %s: %s, want %s", p, got, want)
		}
	}
}
