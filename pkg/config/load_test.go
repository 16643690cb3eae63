package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wsfleet.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newSet(c *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Flags(fs)
	fs.Bool("d", false, "")
	fs.String("pid-file", "", "")
	fs.String("config", "", "")
	return fs
}

func TestLoadPrecedence(t *testing.T) {
	file := writeFile(t, `
count = 3
listen = ":9001"
grace = "5s"
routes = ["nats://a:6222", "nats://b:6222"]
max-message = "2MiB"
send-buffer = 4096
deflate = true
`)
	c := Default()
	fs := newSet(&c)
	if err := fs.Parse([]string{"-listen", ":9003"}); err != nil {
		t.Fatal(err)
	}
	l, p := Load(fs, LoadOptions{File: file, Environ: []string{
		"WSFLEET_COUNT=5", "WSFLEET_CONFIG=x", "WSFLEET_E2E_ANY=1", "WSFLEET_LISTEN=:9002", "PATH=/bin",
	}, Fixed: []string{"d", "config"}})
	if len(p) > 0 {
		t.Fatalf("problems: %q", p)
	}
	if c.Count != 5 || c.Listen != ":9003" || c.Grace != 5*time.Second || !c.Deflate ||
		c.MaxMessage != 2<<20 || c.SendBuffer != 4096 ||
		!reflect.DeepEqual(c.Routes, []string{"nats://a:6222", "nats://b:6222"}) {
		t.Fatalf("got %+v", c)
	}
	var got []string
	for _, s := range l.Set {
		got = append(got, s.Origin+" = "+s.Value)
	}
	f := "config file " + file + ": key "
	want := []string{f + "count = 3", f + "deflate = true", f + "grace = 5s", f + "max-message = 2MiB",
		f + "routes = nats://a:6222,nats://b:6222", f + "send-buffer = 4096", "environment: WSFLEET_COUNT = 5"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("applied %q\nwant %q", got, want)
	}
}

func TestLoadProblemsNameKeyAndVariable(t *testing.T) {
	file := writeFile(t, "cuont = 3\ncount = \"many\"\nd = true\n[nats]\nx = 1\n")
	c := Default()
	fs := newSet(&c)
	_, p := Load(fs, LoadOptions{File: file, Environ: []string{"WSFLEET_FOO=1", "WSFLEET_GRACE=soon"},
		Fixed: []string{"d", "config"}})
	all := strings.Join(p, "\n")
	for _, want := range []string{`unknown key "cuont"`, "key count: -count", `key "d" cannot`, `key "nats": a table`,
		"WSFLEET_FOO", "WSFLEET_GRACE: -grace", file} {
		if !strings.Contains(all, want) {
			t.Errorf("problems lack %q:\n%s", want, all)
		}
	}
	if c.Grace != Default().Grace {
		t.Errorf("a bad -grace left %s, want the value before it", c.Grace)
	}
	if len(p) != 6 {
		t.Errorf("want 6 problems, got %d:\n%s", len(p), all)
	}
}

func TestLoadKnownButAbsentIsSkipped(t *testing.T) {
	file := writeFile(t, "count = 3\npid-file = \"/run/x/master.pid\"\n")
	var pid string
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	fs.StringVar(&pid, "pid-file", "", "")
	c := Default()
	all := newSet(&c)
	_, p := Load(fs, LoadOptions{File: file, Environ: []string{"WSFLEET_COUNT=x"},
		Known: func(n string) bool { return all.Lookup(n) != nil }})
	if len(p) > 0 || pid != "/run/x/master.pid" {
		t.Fatalf("pid %q problems %q", pid, p)
	}
	_, p = Load(fs, LoadOptions{Environ: []string{"WSFLEET_NOPE=x"},
		Known: func(n string) bool { return all.Lookup(n) != nil }})
	if len(p) != 1 || !strings.Contains(p[0], "WSFLEET_NOPE") {
		t.Fatalf("problems %q", p)
	}
}

func TestReadFileErrors(t *testing.T) {
	if _, p := ReadFile(filepath.Join(t.TempDir(), "none.toml")); len(p) != 1 || !strings.Contains(p[0], "-config") {
		t.Fatalf("missing file: %q", p)
	}
	if _, p := ReadFile(writeFile(t, "count = \n")); len(p) != 1 || !strings.Contains(p[0], "line 1") {
		t.Fatalf("syntax: %q", p)
	}
	if _, p := ReadFile(writeFile(t, strings.Repeat("#", maxFile+1))); len(p) != 1 || !strings.Contains(p[0], "larger") {
		t.Fatalf("size: %q", p)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("admin-listen"); got != "WSFLEET_ADMIN_LISTEN" {
		t.Fatal(got)
	}
}
