package master

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func wantRefused(t *testing.T, err error, why string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), why) {
		t.Fatalf("got %v, want a refusal saying %q", err, why)
	}
}

func TestPrivateDirCreates0700(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "wsfleet")
	if err := PrivateDir(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 || !st.IsDir() {
		t.Fatalf("mode %s, want drwx------", st.Mode())
	}
	if err := PrivateDir(dir); err != nil {
		t.Fatalf("second time: %v", err)
	}
}

func TestPrivateDirRefuses(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, PrivateDir(link), "is a symbolic link")

	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, PrivateDir(open), "writable by others")

	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, PrivateDir(file), "not a directory")

	// Another user's: as root, a folder given to nobody; otherwise /, root's.
	theirs := "/"
	if os.Geteuid() == 0 {
		theirs = filepath.Join(base, "theirs")
		if err := os.Mkdir(theirs, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(theirs, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	wantRefused(t, PrivateDir(theirs), "not by us")
}

func TestOpenPrivateRefusesLinks(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	sym := filepath.Join(dir, "master.pid")
	if err := os.Symlink(victim, sym); err != nil {
		t.Fatal(err)
	}
	_, err := lockPIDFile(sym, nil)
	wantRefused(t, err, "symbolic link")
	hard := filepath.Join(dir, "master.log")
	if err := os.Link(victim, hard); err != nil {
		t.Fatal(err)
	}
	_, err = OpenLog(hard)
	wantRefused(t, err, "hard links")
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("victim now %q", b)
	}
}

func TestStartArgsRoundTrip(t *testing.T) {
	pid := filepath.Join(t.TempDir(), "master.pid")
	p, err := lockPIDFile(pid, []string{"-count", "2"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := LoadStart(pid)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if strings.Join(s.Args, " ") != "-count 2" || s.Dir != wd {
		t.Fatalf("loaded %+v", s)
	}
	p.remove()
	if _, err := LoadStart(pid); err == nil {
		t.Fatal("start arguments outlived the pid file")
	}
}
