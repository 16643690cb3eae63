package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckWebhook: -webhook-secret-file needs -webhook and a key of at
// least 32 bytes; -events-headers serves -webhook's open events too.
func TestCheckWebhook(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	good := filepath.Join(dir, "good")
	os.WriteFile(short, []byte("short\n"), 0o600)
	os.WriteFile(good, []byte(strings.Repeat("k", 32)+"\n"), 0o600)
	for _, tc := range []struct {
		args []string
		want string // "" for no problem
	}{
		{[]string{"-webhook", "http://127.0.0.1:8000/", "-webhook-secret-file", good, "-events-headers", "X-A"}, ""},
		{[]string{"-webhook-secret-file", good}, "-webhook-secret-file needs -webhook"},
		{[]string{"-webhook", "http://127.0.0.1:8000/", "-webhook-secret-file", short}, "-webhook-secret-file: "},
		{[]string{"-webhook", "http://127.0.0.1:8000/", "-webhook-secret-file", filepath.Join(dir, "missing")}, "-webhook-secret-file: "},
		{[]string{"-events-headers", "X-A"}, "-events-headers needs -events or -webhook"},
		{[]string{"-webhook", "ftp://x/"}, "-webhook \"ftp://x/\""},
	} {
		c := Default()
		c.PIDFile = filepath.Join(dir, "master.pid")
		if err := parse(t, &c, tc.args...); err != nil {
			t.Fatal(err)
		}
		p := strings.Join(c.Check(), "\n")
		switch {
		case tc.want == "" && p != "":
			t.Errorf("%q: %s", tc.args, p)
		case tc.want != "" && !strings.Contains(p, tc.want):
			t.Errorf("%q: problems %q, want one with %q", tc.args, p, tc.want)
		}
	}
}
