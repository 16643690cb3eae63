package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestStartDaemon: `start -d` returns only once the cluster accepts
// connections, and a second start is refused with "already running".
func TestStartDaemon(t *testing.T) {
	t.Parallel()
	c := newCluster(t, clusterOpts{count: 2, daemon: true})
	_, errOut, code := cli(t, append([]string{"start", "-d"}, c.startArgs()...)...)
	if code != 0 {
		t.Fatalf("start -d exited %d: %s", code, errOut)
	}
	// No waiting: the command's return is the promise.
	if err := c.dial().roundTrip("right after start -d"); err != nil {
		t.Fatalf("start -d returned before the cluster accepted: %v", err)
	}
	first := c.waitRunning(readyTimeout)
	logFile := filepath.Join(c.dir, "master.log")
	waitFor(t, 5*time.Second, func() error {
		if fi, err := os.Stat(logFile); err != nil || fi.Size() == 0 {
			return fmt.Errorf("the daemon's log %s is missing or empty (%v)", logFile, err)
		}
		return nil
	})

	for _, args := range [][]string{
		append([]string{"start", "-d"}, c.startArgs()...),
		append([]string{"start"}, c.startArgs()...),
	} {
		out, errOut, code, err := runCLI(20*time.Second, args...)
		if err != nil || code != 1 || !strings.Contains(errOut, "already running") {
			t.Errorf("second `master %s`: exit %d (%v), want 1 with \"already running\" on stderr\nstdout:\n%s\nstderr:\n%s",
				strings.Join(args[:2], " "), code, err, out, errOut)
		}
	}
	if st := c.status(); st.Master.PID != first.Master.PID {
		t.Errorf("master pid changed from %d to %d after a refused start", first.Master.PID, st.Master.PID)
	}
	if err := c.dial().roundTrip("still"); err != nil {
		t.Error(err)
	}
}

// TestStartFails: a start that cannot succeed (the port is taken, the
// worker binary is missing, NATS is unreachable) exits 1 with the reason on
// stderr, in the foreground as with -d, and leaves nothing running.
// (A -worker-bin that does not exist is a bad value: see TestBadFlags.)
func TestStartFails(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	noNATS := freeAddr(t)
	failing := filepath.Join(t.TempDir(), "failing-worker")
	if err := os.WriteFile(failing, []byte("#!/bin/sh\necho 'worker: cannot start' >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		set  func(c *cluster)
		says string // stderr must contain this
	}{
		{name: "port taken", set: func(c *cluster) { c.addr = taken }, says: taken},
		{name: "worker fails to start", set: func(c *cluster) { c.opts.extra = []string{"-worker-bin", failing} }, says: "worker"},
		{name: "NATS unreachable", set: func(c *cluster) { c.opts.nats = "nats://" + noNATS }, says: noNATS},
	}
	for _, tc := range cases {
		for _, daemon := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s daemon=%v", tc.name, daemon), func(t *testing.T) {
				c := newCluster(t, clusterOpts{count: 2})
				tc.set(c)
				args := append([]string{"start"}, c.startArgs()...)
				if daemon {
					args = append([]string{"start", "-d"}, c.startArgs()...)
				}
				out, errOut, code, err := runCLI(30*time.Second, args...)
				if err != nil || code != 1 || !strings.Contains(errOut, tc.says) {
					t.Errorf("exit %d (%v), want 1 with %q on stderr\nstdout:\n%s\nstderr:\n%s", code, err, tc.says, out, errOut)
				}
				_, errOut, code = cli(t, "status", "-pid-file", c.pidFile)
				if code != 1 || !strings.Contains(errOut, "not running") {
					t.Errorf("status after a failed start: exit %d: %s", code, errOut)
				}
				waitFor(t, 10*time.Second, func() error {
					if pids := ourProcessesMentioning(c.addr); len(pids) > 0 {
						return fmt.Errorf("processes %v still run with %s on their command line", pids, c.addr)
					}
					return nil
				})
			})
		}
	}
}

// TestStartStalePidFile: a pid file naming a dead process, and the control
// socket a killed master left, do not stop the next start.
func TestStartStalePidFile(t *testing.T) {
	t.Parallel()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "master.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(dead.ProcessState.Pid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock, err := net.Listen("unix", strings.TrimSuffix(pidFile, ".pid")+".sock")
	if err != nil {
		t.Fatal(err)
	}
	sock.(*net.UnixListener).SetUnlinkOnClose(false)
	sock.Close()

	c := startCluster(t, clusterOpts{count: 1, daemon: true, pidFile: pidFile})
	if err := c.dial().roundTrip("hi"); err != nil {
		t.Error(err)
	}
}

// TestStatusAndConnectionsText: the human tables show every worker's pid,
// a summary line, and every connection's remote address.
func TestStatusAndConnectionsText(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2})
	clients := c.dialN(5)
	c.owners(clients)
	st := c.status()
	out := c.mustCLI("status")
	for _, w := range st.Workers {
		if !regexp.MustCompile(`\b` + strconv.Itoa(w.PID) + `\b`).MatchString(out) {
			t.Errorf("status does not show worker pid %d:\n%s", w.PID, out)
		}
	}
	if !regexp.MustCompile(`(?im)^.*\b(summary|total)\b.*$`).MatchString(out) {
		t.Errorf("status has no summary line (one saying \"summary\" or \"total\"):\n%s", out)
	}
	out = c.mustCLI("connections")
	for _, cl := range clients {
		mustContain(t, "connections", out, cl.local)
	}

	// The JSON counts bytes both ways: "hi" in a masked frame is 8 bytes,
	// "hello hi" in an unmasked one 10.
	if err := clients[0].roundTrip("hi"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() error {
		row := c.owners(clients[:1])[clients[0]]
		if row.BytesIn < 8 || row.BytesOut < 10 || row.AgeSeconds <= 0 || row.ID == "" {
			return fmt.Errorf("connection row %+v: want id, bytes_in >= 8, bytes_out >= 10, age > 0", row)
		}
		return nil
	})
}

// TestNoMaster: every verb that needs a master exits 1 with "not running".
func TestNoMaster(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "master.pid")
	for _, verb := range [][]string{{"stop"}, {"stop", "-g"}, {"reload"}, {"status"}, {"status", "-json"}, {"connections"}, {"connections", "-json"}} {
		out, errOut, code := cli(t, append(verb, "-pid-file", pidFile)...)
		if code != 1 || !strings.Contains(errOut, "not running") {
			t.Errorf("master %v without a master: exit %d, want 1 with \"not running\" on stderr\nstdout:\n%s\nstderr:\n%s", verb, code, out, errOut)
		}
	}
}

// TestBadFlags: a bad flag or value exits 2, names the flag, starts nothing.
func TestBadFlags(t *testing.T) {
	t.Parallel()
	cases := []struct {
		args []string
		flag string
	}{
		{args: []string{"start", "-count", "abc"}, flag: "count"},
		{args: []string{"start", "-count", "0"}, flag: "count"},
		{args: []string{"start", "-nope"}, flag: "nope"},
		{args: []string{"start", "-app", "nosuch"}, flag: "app"},
		{args: []string{"start", "-push-interval", "soon"}, flag: "push-interval"},
		{args: []string{"start", "-max-message", "lots"}, flag: "max-message"},
		{args: []string{"start", "-worker-cores", "-1"}, flag: "worker-cores"},
		{args: []string{"start", "-ping-interval", "-1s"}, flag: "ping-interval"},
		{args: []string{"start", "-idle-timeout", "often"}, flag: "idle-timeout"},
		{args: []string{"start", "-ping-interval", "30s", "-idle-timeout", "20s"}, flag: "idle-timeout"},
		{args: []string{"stop", "-grace", "abc"}, flag: "grace"},
		// Issue 10, hub bounds.
		{args: []string{"start", "-max-rooms", "0"}, flag: "max-rooms"},
		{args: []string{"start", "-max-rooms", "many"}, flag: "max-rooms"},
		{args: []string{"start", "-worker-bin", "/nonexistent/worker"}, flag: "worker-bin"},
		{args: []string{"status", "-nope"}, flag: "nope"},
		{args: []string{"nosuch"}, flag: "nosuch"},
		// Client authentication (issue 11).
		{args: []string{"start", "-jwt-secret-file", "/nonexistent/secret"}, flag: "jwt-secret-file"},
		{args: []string{"start", "-jwt-secret-file", "/dev/null"}, flag: "jwt-secret-file"}, // empty
		{args: []string{"start", "-jwt-key-file", "/dev/null"}, flag: "jwt-key-file"},       // no PEM
		{args: []string{"start", "-jwt-expire-close"}, flag: "jwt-expire-close"},
		{args: []string{"start", "-events-headers", "Cookie"}, flag: "events-headers"},
		{args: []string{"start", "-max-conns", "-1"}, flag: "max-conns"},
		{args: []string{"start", "-max-conns-per-ip", "many"}, flag: "max-conns-per-ip"},
		{args: []string{"start", "-max-request-head", "100"}, flag: "max-request-head"},
		// Issue 11: the bus's credentials.
		{args: []string{"start", "-cluster-listen", "127.0.0.1:1"}, flag: "cluster-password-file"},
		{args: []string{"start", "-cluster-listen", "127.0.0.1:1", "-cluster-password-file", "/nonexistent"}, flag: "cluster-tls-cert"},
		{args: []string{"start", "-nats-backend-password-file", "/etc/passwd"}, flag: "nats-backend-password-file"}, // others may read it
		{args: []string{"start", "-nats-user", "app"}, flag: "nats-user"},                                           // for -nats only
		{args: []string{"start", "-nats", "nats://127.0.0.1:1", "-nats-user", "app"}, flag: "nats-password-file"},
		{args: []string{"start", "-nats", "nats://127.0.0.1:1", "-nats-tls-cert", "/nonexistent", "-nats-tls-key", "/nonexistent"}, flag: "nats-tls"},
		{args: []string{"start", "-nats-backend-user", "wsfleet"}, flag: "nats-backend-user"},
		{args: []string{"start", "-memory-limit", "lots"}, flag: "memory-limit"},
	}
	for _, tc := range cases {
		pidFile := filepath.Join(t.TempDir(), "master.pid")
		args := tc.args
		if args[0] == "start" {
			args = append(args, "-listen", freeAddr(t), "-nats-listen", "127.0.0.1:0", "-pid-file", pidFile)
		}
		out, errOut, code, err := runCLI(20*time.Second, args...)
		if err != nil || code != 2 || !strings.Contains(errOut, tc.flag) {
			t.Errorf("master %s: exit %d (%v), want 2 naming %q on stderr\nstdout:\n%s\nstderr:\n%s",
				strings.Join(tc.args, " "), code, err, tc.flag, out, errOut)
		}
		if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("master %s left a pid file", strings.Join(tc.args, " "))
			cli(t, "stop", "-pid-file", pidFile)
		}
	}
}

// TestHelp: `-h` after every verb exits 0 and documents each of its flags.
func TestHelp(t *testing.T) {
	t.Parallel()
	verbs := map[string][]string{
		"start": {"count", "listen", "app", "push-interval", "nats", "nats-listen", "cluster-name", "grace",
			"max-message", "send-buffer", "log-file", "log-level", "worker-bin", "worker-cores", "ping-interval", "idle-timeout", "d", "pid-file",
			"jwt-secret-file", "jwt-key-file", "jwt-expire-close", "events-headers",
			"max-conns", "max-conns-per-ip", "max-request-head",
			"nats-user", "nats-password-file", "nats-creds", "nats-tls-cert", "nats-tls-key", "nats-tls-ca",
			"nats-backend-user", "nats-backend-password-file", "cluster-user", "cluster-password-file",
			"cluster-tls-cert", "cluster-tls-key", "cluster-tls-ca",
			"memory-limit", "echo-prefix",
			"max-rooms"}, // issue 10, hub bounds
		"stop":        {"g", "grace", "pid-file"},
		"restart":     {"d", "g", "grace", "pid-file"},
		"reload":      {"g", "grace", "pid-file"},
		"status":      {"json", "pid-file"},
		"connections": {"json", "pid-file"},
	}
	for verb, flags := range verbs {
		out, errOut, code := cli(t, verb, "-h")
		text := out + errOut
		if code != 0 {
			t.Errorf("master %s -h exited %d, want 0:\n%s", verb, code, text)
		}
		for _, f := range flags {
			if !regexp.MustCompile(`(^|[^\w-])--?` + regexp.QuoteMeta(f) + `([^\w-]|$)`).MatchString(text) {
				t.Errorf("master %s -h does not document -%s:\n%s", verb, f, text)
			}
		}
	}
}

// TestWorkerCores: every worker is started with its share of the cores,
// -worker-cores when given, the cores divided among the workers otherwise,
// and runs that many Ps (GOMAXPROCS), never more than the CPUs it may use;
// a GOMAXPROCS in the environment wins over both.
func TestWorkerCores(t *testing.T) {
	t.Parallel()
	if env := os.Getenv("GOMAXPROCS"); env != "" {
		t.Fatalf("TestWorkerCores needs the default GOMAXPROCS, and this test runs with GOMAXPROCS=%s", env)
	}
	cpus := runtime.GOMAXPROCS(0) // the workers' default, as the master's
	for _, tc := range []struct {
		extra, env  []string
		cores, want int // want: the workers' GOMAXPROCS
	}{
		{nil, nil, max(1, cpus/2), max(1, cpus/2)},
		{[]string{"-worker-cores", "1"}, nil, 1, 1},
		{[]string{"-worker-cores", "3"}, nil, 3, min(3, cpus)},
		{[]string{"-worker-cores", "1"}, []string{"GOMAXPROCS=3"}, 1, 3},
	} {
		c := startCluster(t, clusterOpts{count: 2, extra: tc.extra, env: tc.env})
		for _, w := range c.status().Workers {
			if w.Cores != tc.cores {
				t.Errorf("%v %v: worker %d may use %d cores, want %d", tc.env, tc.extra, w.PID, w.Cores, tc.cores)
			}
			if w.Procs != tc.want {
				t.Errorf("%v %v: worker %d runs GOMAXPROCS %d, want %d", tc.env, tc.extra, w.PID, w.Procs, tc.want)
			}
		}
	}
}

// TestKeepaliveFlags: -ping-interval and -idle-timeout reach the workers. A
// client that answers pings gets them at the interval and stays; with
// pings off, a client that sends nothing is closed with 1001 after
// -idle-timeout.
func TestKeepaliveFlags(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 1, extra: []string{"-ping-interval", "500ms", "-idle-timeout", "2s"}})
	cl := c.dial()
	for range 5 { // five pings answered, 2.5 s: longer than -idle-timeout, and still open
		ev, err := cl.nextEvent(expectTimeout)
		if err != nil || ev.kind != evPing {
			t.Fatalf("waiting for a ping: got %s (%v)", ev, err)
		}
	}
	if err := cl.roundTrip("still here"); err != nil {
		t.Fatal(err)
	}

	quiet := startCluster(t, clusterOpts{count: 1, extra: []string{"-ping-interval", "0", "-idle-timeout", "1s"}})
	cl = quiet.dial()
	if ev := cl.expectClose(expectTimeout, ws.StatusGoingAway); ev.reason != "idle timeout" {
		t.Errorf("closed with reason %q, want \"idle timeout\"", ev.reason)
	}
}
