package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cleanEnv is this process's environment without any WSFLEET_ variable
// but the tests' own, plus more.
func cleanEnv(more ...string) []string {
	var out []string
	for _, e := range os.Environ() {
		if strings.HasPrefix(e, "WSFLEET_") && !strings.HasPrefix(e, "WSFLEET_E2E_") {
			continue
		}
		out = append(out, e)
	}
	return append(out, more...)
}

// envCLI runs `master args...` in environment env.
func envCLI(t *testing.T, env []string, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	stdout, stderr, exitCode, err := runProgramEnv(cliTimeout, env, masterBin, args...)
	if err != nil {
		t.Fatalf("master %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr, exitCode
}

// writeConfig writes a TOML configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "wsfleet.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// envStatus is `master status -json` in environment env with args.
func envStatus(t *testing.T, env []string, args ...string) statusJSON {
	t.Helper()
	out, errOut, code := envCLI(t, env, append([]string{"status", "-json"}, args...)...)
	if code != 0 {
		t.Fatalf("status %v exited %d: %s", args, code, errOut)
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -json: %v in %q", err, out)
	}
	return st
}

// TestConfigFile: a TOML file sets count, listen and pid-file; status and
// stop find the master through the same file (-config or WSFLEET_CONFIG)
// with no -pid-file; a flag overrides the file.
func TestConfigFile(t *testing.T) {
	c := newCluster(t, clusterOpts{count: 3, pidFile: filepath.Join(t.TempDir(), "master.pid")})
	file := writeConfig(t, fmt.Sprintf(`# production-like
count = 2
listen = %q
pid-file = %q
app = "echo"
nats-listen = "127.0.0.1:0"
grace = "5s"
max-message = "64KiB"
log-level = "debug"
`, c.addr, c.pidFile))
	env := cleanEnv()
	_, errOut, code := envCLI(t, env, "start", "-d", "-config", file, "-count", "3")
	if code != 0 {
		t.Fatalf("start -d -config exited %d: %s", code, errOut)
	}
	c.waitRunning(readyTimeout)

	st := envStatus(t, env, "-config", file)
	if st.Master.Count != 3 || st.Master.Listen != c.addr || len(st.Workers) != 3 {
		t.Fatalf("status -config: count %d listen %s workers %d; want 3 (flag over file), %s, 3",
			st.Master.Count, st.Master.Listen, len(st.Workers), c.addr)
	}
	st2 := envStatus(t, cleanEnv("WSFLEET_CONFIG="+file))
	if st2.Master.PID != st.Master.PID {
		t.Fatalf("status under WSFLEET_CONFIG found pid %d, want %d", st2.Master.PID, st.Master.PID)
	}
	// The file's max-message reached the workers: 64 KiB + 1 closes 1009.
	cl := c.dial()
	cl.send(strings.Repeat("x", 64<<10+1))
	cl.expectClose(10*time.Second, 1009)
	// Without the file or a -pid-file, status looks elsewhere.
	if _, _, code := envCLI(t, env, "status", "-pid-file", filepath.Join(t.TempDir(), "none.pid")); code == 0 {
		t.Fatal("status with another pid file found a master")
	}
	out, errOut, code := envCLI(t, env, "stop", "-config", file)
	if code != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("stop -config exited %d: %s%s", code, out, errOut)
	}
	c.waitGone(30 * time.Second)
}

// TestConfigEnvPrecedence: environment over file, flag over environment;
// restart keeps what the environment gave; an unknown WSFLEET_ variable
// and an unknown key are refused by name.
func TestConfigEnvPrecedence(t *testing.T) {
	c := newCluster(t, clusterOpts{count: 3, pidFile: filepath.Join(t.TempDir(), "master.pid")})
	file := writeConfig(t, fmt.Sprintf("count = 1\nlisten = \"127.0.0.1:1\"\npid-file = %q\napp = \"push\"\nnats-listen = \"127.0.0.1:0\"\n", c.pidFile))
	env := cleanEnv("WSFLEET_CONFIG="+file, "WSFLEET_COUNT=3", "WSFLEET_LISTEN=127.0.0.1:2", "WSFLEET_APP=echo")
	_, errOut, code := envCLI(t, env, "start", "-d", "-listen", c.addr)
	if code != 0 {
		t.Fatalf("start -d exited %d: %s", code, errOut)
	}
	c.waitRunning(readyTimeout)
	st := envStatus(t, env)
	if st.Master.Count != 3 || st.Master.Listen != c.addr || st.Master.App != "echo" {
		t.Fatalf("count %d listen %s app %s; want 3 (env over file), %s (flag over env), echo (env over file)",
			st.Master.Count, st.Master.Listen, st.Master.App, c.addr)
	}
	// restart with nothing but the pid file keeps the environment's
	// settings, which restart's own environment no longer has.
	out, errOut, code := envCLI(t, cleanEnv(), "restart", "-d", "-pid-file", c.pidFile)
	if code != 0 {
		t.Fatalf("restart -d exited %d: %s%s", code, out, errOut)
	}
	st = *c.waitRunning(readyTimeout)
	if st.Master.Count != 3 || st.Master.Listen != c.addr || st.Master.App != "echo" {
		t.Fatalf("after restart: count %d listen %s app %s; want 3, %s, echo", st.Master.Count, st.Master.Listen, st.Master.App, c.addr)
	}

	_, errOut, code = envCLI(t, append(env, "WSFLEET_FOO=1"), "status")
	if code != 2 || !strings.Contains(errOut, "WSFLEET_FOO") {
		t.Fatalf("status with WSFLEET_FOO: exit %d, stderr %q; want 2 naming WSFLEET_FOO", code, errOut)
	}
	_, errOut, code = envCLI(t, cleanEnv("WSFLEET_FOO=1"), "start", "-d", "-pid-file", filepath.Join(t.TempDir(), "x.pid"), "-listen", freeAddr(t))
	if code != 2 || !strings.Contains(errOut, "WSFLEET_FOO") {
		t.Fatalf("start with WSFLEET_FOO: exit %d, stderr %q; want 2 naming WSFLEET_FOO", code, errOut)
	}
	bad := writeConfig(t, "cuont = 2\n")
	_, errOut, code = envCLI(t, cleanEnv(), "start", "-d", "-config", bad, "-pid-file", filepath.Join(t.TempDir(), "x.pid"), "-listen", freeAddr(t))
	if code != 2 || !strings.Contains(errOut, `"cuont"`) || !strings.Contains(errOut, bad) {
		t.Fatalf("start with key cuont: exit %d, stderr %q; want 2 naming the key and the file", code, errOut)
	}
}

// TestConfigCheck: start -check validates flags, environment and file,
// names every problem, exits 0 or 1 and starts nothing.
func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	pid := filepath.Join(dir, "master.pid")
	addr := freeAddr(t)
	good := writeConfig(t, fmt.Sprintf("count = 2\nlisten = %q\npid-file = %q\nadmin-listen = \"127.0.0.1:9\"\nroutes = []\n", addr, pid))
	out, errOut, code := envCLI(t, cleanEnv(), "start", "-check", "-config", good)
	if code != 0 || !strings.Contains(out, "configuration OK") {
		t.Fatalf("start -check on a good file: exit %d\n%s%s", code, out, errOut)
	}
	if _, err := os.Stat(pid); !os.IsNotExist(err) {
		t.Fatalf("start -check left a pid file (%v)", err)
	}
	bad := writeConfig(t, "count = 0\nlisten = \"nowhere\"\nlog-format = \"xml\"\ncuont = 1\nmax-message = \"lots\"\n")
	out, errOut, code = envCLI(t, cleanEnv("WSFLEET_GRACE=-1s", "WSFLEET_APP=nope", "WSFLEET_ZZZ=1"), "start", "-check", "-config", bad, "-pid-file", pid)
	if code != 1 {
		t.Fatalf("start -check on a bad configuration: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"-count", "-listen", "-log-format", `"cuont"`, "max-message", "-grace", "-app", "WSFLEET_ZZZ"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("start -check does not name %s:\n%s", want, errOut)
		}
	}
	if _, err := os.Stat(pid); !os.IsNotExist(err) {
		t.Fatalf("start -check left a pid file (%v)", err)
	}
}
