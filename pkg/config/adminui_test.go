package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminPasswordFile: the admin page's password file needs the admin
// listener, must be readable by its owner only and not empty; each
// problem names -admin-password-file; a good one passes, made absolute.
func TestAdminPasswordFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", " pw\n", 0o600)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-admin-password-file", good}, "-admin-password-file needs -admin-listen"},
		{[]string{"-admin-listen", "127.0.0.1:0", "-admin-password-file", write("open", "pw", 0o644)}, "chmod 600"},
		{[]string{"-admin-listen", "127.0.0.1:0", "-admin-password-file", write("empty", " \n", 0o600)}, "is empty"},
		{[]string{"-admin-listen", "127.0.0.1:0", "-admin-password-file", filepath.Join(dir, "missing")}, "no such file"},
	} {
		c := Default()
		c.PIDFile = filepath.Join(dir, "master.pid")
		if err := parse(t, &c, tc.args...); err != nil {
			t.Fatal(err)
		}
		p := strings.Join(c.Check(), "\n")
		if !strings.Contains(p, "-admin-password-file") || !strings.Contains(p, tc.want) {
			t.Errorf("%v: problems %q, want one naming -admin-password-file: %s", tc.args, p, tc.want)
		}
	}
	c := Default()
	c.PIDFile = filepath.Join(dir, "master.pid")
	t.Chdir(dir)
	if err := parse(t, &c, "-admin-listen", "127.0.0.1:0", "-admin-password-file", "good"); err != nil {
		t.Fatal(err)
	}
	if p := c.Check(); len(p) > 0 || c.AdminPasswordFile != good {
		t.Fatalf("a good file: problems %q, path %q (want %q)", p, c.AdminPasswordFile, good)
	}
}
