package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Issue 11, point 5: the shipped systemd unit runs wsfleet as its own user
// in a sandbox.

// unitFile parses a systemd unit into section -> key -> values (a key may
// repeat; comments and blank lines are skipped).
func unitFile(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s: cannot parse %q", path, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func shippedUnit(t *testing.T) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, "scripts", "systemd", "wsfleet.service")
}

// TestSystemdUnitSandbox: the unit's user is not root, its sandboxing
// options are set, and the master's private folder is its 0700 runtime
// directory.
func TestSystemdUnitSandbox(t *testing.T) {
	t.Parallel()
	svc := unitFile(t, shippedUnit(t))["Service"]
	last := func(k string) string {
		if v := svc[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return "(unset)"
	}
	if u := last("User"); (u == "(unset)" || u == "root" || u == "0") && last("DynamicUser") != "yes" {
		t.Errorf("User=%s, DynamicUser=%s: the service runs as root", u, last("DynamicUser"))
	}
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
		"ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces": "yes",
		"LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "",
		"AmbientCapabilities": "", "RuntimeDirectory": "wsfleet", "RuntimeDirectoryMode": "0700",
		"SystemCallArchitectures": "native",
	} {
		if got := last(k); got != want {
			t.Errorf("%s=%s, want %s=%s", k, got, k, want)
		}
	}
	if !strings.Contains(strings.Join(svc["SystemCallFilter"], " "), "@system-service") {
		t.Errorf("SystemCallFilter=%v, want @system-service", svc["SystemCallFilter"])
	}
	if n, err := strconv.Atoi(last("LimitNOFILE")); err != nil || n < 65536 {
		t.Errorf("LimitNOFILE=%s, want at least 65536 (a worker holds ~20k connections)", last("LimitNOFILE"))
	}
	if !slices.Contains(svc["Environment"], "WSFLEET_PID_FILE=/run/wsfleet/master.pid") {
		t.Errorf("Environment=%v: the pid file belongs in the runtime directory /run/wsfleet, named once for every command (WSFLEET_PID_FILE)", svc["Environment"])
	}
	if strings.Contains(last("ExecStart")+last("ExecReload"), "-pid-file") {
		t.Errorf("ExecStart=%s, ExecReload=%s: -pid-file repeated, where WSFLEET_PID_FILE names it once", last("ExecStart"), last("ExecReload"))
	}
}

// TestSystemdUnitNotify (issue 13): the unit waits for the master's
// READY=1 (Type=notify) from the master alone, runs it in the foreground,
// reloads through the reload verb, and gives a stop more than -grace.
func TestSystemdUnitNotify(t *testing.T) {
	t.Parallel()
	svc := unitFile(t, shippedUnit(t))["Service"]
	last := func(k string) string {
		if v := svc[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return "(unset)"
	}
	for k, want := range map[string]string{"Type": "notify", "NotifyAccess": "main", "KillMode": "mixed"} {
		if got := last(k); got != want {
			t.Errorf("%s=%s, want %s=%s", k, got, k, want)
		}
	}
	if start := " " + last("ExecStart") + " "; !strings.Contains(start, " start ") || strings.Contains(start, " -d ") {
		t.Errorf("ExecStart=%s: want `master start` in the foreground (no -d) under Type=notify", last("ExecStart"))
	}
	if r := last("ExecReload"); !strings.HasPrefix(r, "/usr/local/bin/master reload") {
		t.Errorf("ExecReload=%s, want the reload verb", r)
	}
	if n, err := strconv.Atoi(last("TimeoutStopSec")); err != nil || n <= 30 {
		t.Errorf("TimeoutStopSec=%s, want more than the default -grace (30s)", last("TimeoutStopSec"))
	}
}

// systemdAnalyze is systemd-analyze, or a test failure naming the package.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("this test checks the shipped unit with systemd-analyze: apt-get install systemd")
	}
	return p
}

// TestSystemdAnalyze: `systemd-analyze verify` finds nothing wrong with the
// unit (its ExecStart and ExecReload pointed at the binary under test), and
// `systemd-analyze security --offline=yes` (systemd 252) rates its
// exposure at most 2.0, below issue 13's 3.0 (1.5 when written: "OK"; 10
// is a service with no sandbox, 9.6 the unit before issue 11).
func TestSystemdAnalyze(t *testing.T) {
	t.Parallel()
	sa := systemdAnalyze(t)
	b, err := os.ReadFile(shippedUnit(t))
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "wsfleet.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/master", masterBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", unit).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(sa, "security", "--offline=yes", unit).CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level:\n%s", out)
	}
	if score, _ := strconv.ParseFloat(string(m[1]), 64); score > 2.0 {
		t.Errorf("exposure %.1f, want at most 2.0:\n%s", score, out)
	} else {
		t.Logf("systemd-analyze security: exposure %.1f", score)
	}
}

// TestSystemdInstallScript: install.sh with DESTDIR puts the binaries, the
// unit and a root-only /etc/wsfleet in place.
func TestSystemdInstallScript(t *testing.T) {
	t.Parallel()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dest := t.TempDir()
	cmd := exec.Command("sh", filepath.Join(root, "scripts", "systemd", "install.sh"))
	cmd.Env = append(os.Environ(), "DESTDIR="+dest, "BIN="+binDir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	for path, mode := range map[string]os.FileMode{
		"usr/local/bin/master": 0o755, "usr/local/bin/worker": 0o755,
		"etc/systemd/system/wsfleet.service": 0o644, "etc/wsfleet": 0o700 | os.ModeDir,
	} {
		fi, err := os.Stat(filepath.Join(dest, path))
		if err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v (%v), want %v", path, fi.Mode(), err, mode)
		}
	}
}
