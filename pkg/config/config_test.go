package config

import (
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// parse binds c's flags and parses args over c's values.
func parse(t *testing.T, c *Config, args ...string) error {
	t.Helper()
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.Flags(fs)
	return fs.Parse(args)
}

// TestDefaultsPass: the defaults are a valid configuration.
func TestDefaultsPass(t *testing.T) {
	c := Default()
	c.PIDFile = filepath.Join(t.TempDir(), "master.pid")
	if p := c.Check(); len(p) > 0 {
		t.Fatalf("the defaults fail their own check: %q", p)
	}
	if c.LogFile != filepath.Join(filepath.Dir(c.PIDFile), "master.log") {
		t.Errorf("log file %q, want master.log beside the pid file", c.LogFile)
	}
}

// TestCodeDefaultsFlagsOverride: what a program sets in code is the flags'
// default; the command line wins; what it does not name keeps the code's
// value.
func TestCodeDefaultsFlagsOverride(t *testing.T) {
	c := Default()
	c.Count, c.Listen, c.PingInterval, c.AllowOrigins = 2, ":9000", 5*time.Second, []string{"https://a.example"}
	if err := parse(t, &c, "-listen", "127.0.0.1:9001", "-max-message", "64KiB", "-trusted-proxy", "10.0.0.0/8,127.0.0.1", "-ping-interval", "0"); err != nil {
		t.Fatal(err)
	}
	if c.Count != 2 || c.Listen != "127.0.0.1:9001" || c.MaxMessage != 64<<10 || c.PingInterval != 0 {
		t.Errorf("count %d listen %q max-message %d ping %s", c.Count, c.Listen, c.MaxMessage, c.PingInterval)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	if !slices.Equal(c.TrustedProxies, want) || !slices.Equal(c.AllowOrigins, []string{"https://a.example"}) {
		t.Errorf("trusted proxies %v, origins %v", c.TrustedProxies, c.AllowOrigins)
	}
	// The help shows the code's defaults.
	c2 := Default()
	c2.Count = 7
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	c2.Flags(fs)
	if d := fs.Lookup("count").DefValue; d != "7" {
		t.Errorf("-count's default shows as %q, want the code's 7", d)
	}
}

// TestCheckNamesEveryFlag: every problem is reported at once, each naming
// its flag.
func TestCheckNamesEveryFlag(t *testing.T) {
	c := Default()
	c.PIDFile = filepath.Join(t.TempDir(), "master.pid")
	if err := parse(t, &c, "-count", "0", "-listen", "nope", "-grace", "0", "-worker-timeout", "100ms", "-node", "a b",
		"-ping-interval", "30s", "-idle-timeout", "10s", "-max-rooms", "0", "-max-request-head", "100",
		"-tls-cert", "x.pem", "-jwt-expire-close", "-events-headers", "X-A", "-require-subprotocol",
		"-routes", "nats://h:1", "-worker-bin", "/nonexistent/worker", "-nats-user", "u",
		"-tcp-keepalive", "500ms"); err != nil {
		t.Fatal(err)
	}
	p := strings.Join(c.Check(), "\n")
	for _, flag := range []string{"-count", "-listen", "-grace", "-worker-timeout", "-node", "-idle-timeout", "-max-rooms",
		"-max-request-head", "-tls-cert", "-jwt-expire-close", "-events-headers", "-require-subprotocol",
		"-routes", "-worker-bin", "-nats-user", "-tcp-keepalive"} {
		if !strings.Contains(p, flag) {
			t.Errorf("no problem names %s:\n%s", flag, p)
		}
	}
}

// TestCheckMakesPathsAbsolute: the workers and a restart may run in
// another folder; the files mean the same there.
func TestCheckMakesPathsAbsolute(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("worker", []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := Default()
	c.PIDFile, c.WorkerBin = "run/master.pid", "worker"
	if p := c.Check(); len(p) > 0 {
		t.Fatal(p)
	}
	if c.PIDFile != filepath.Join(dir, "run/master.pid") || c.WorkerBin != filepath.Join(dir, "worker") {
		t.Errorf("pid file %q, worker %q: not absolute in %s", c.PIDFile, c.WorkerBin, dir)
	}
}

// TestBusSecrets: the password files are read; a missing one is named.
func TestBusSecrets(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret-s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := BusConfig{User: "app", PasswordFile: pw, BackendUser: "backend", BackendPasswordFile: filepath.Join(dir, "missing")}
	s, p := b.Secrets(true, false)
	if s.Client.User != "app" || s.Client.Password != "s3cret-s3cret" {
		t.Errorf("client credentials %+v", s.Client)
	}
	if len(p) != 1 || !strings.Contains(p[0], "-nats-backend-password-file") {
		t.Errorf("problems %q, want one naming -nats-backend-password-file", p)
	}
}
