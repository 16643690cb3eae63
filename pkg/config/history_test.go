package config

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckHistory: bad -history and -history-replicas values are named;
// -data-dir defaults to data beside the pid file.
func TestCheckHistory(t *testing.T) {
	c := Default()
	c.PIDFile = filepath.Join(t.TempDir(), "master.pid")
	if err := parse(t, &c, "-history", "lobby=0,1m", "-history-replicas", "0", "-history-max-bytes", "1000"); err != nil {
		t.Fatal(err)
	}
	p := strings.Join(c.Check(), "\n")
	for _, flag := range []string{"-history:", "-history-replicas", "-history-max-bytes"} {
		if !strings.Contains(p, flag) {
			t.Errorf("no problem names %s:\n%s", flag, p)
		}
	}
	c = Default()
	c.PIDFile = filepath.Join(t.TempDir(), "master.pid")
	if p := c.Check(); len(p) > 0 {
		t.Fatal(p)
	}
	if want := filepath.Join(filepath.Dir(c.PIDFile), "data"); c.DataDir != want {
		t.Errorf("-data-dir %q, want %q", c.DataDir, want)
	}
}
