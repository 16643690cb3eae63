package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// Issue 11, point 3: a control plane no one else can steer. These tests
// rerun the attacks of the issue: a folder another user created first at
// the default place (/tmp/wsfleet-<uid> without XDG_RUNTIME_DIR), with
// symbolic links and a fake master in it, and a fake master whose answer
// names the -worker-bin that `restart` used to run.

// nobody is the other user of these tests.
const nobody = 65534

// needRoot fails the test unless it runs as root, which giving a folder to
// another user takes; CI runs as root.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test gives files to another user (nobody), which needs root; CI runs as root")
	}
}

// cliEnv runs `master args...` with XDG_RUNTIME_DIR unset and TMPDIR set
// to tmp, so that the default pid file is tmp/wsfleet-<uid>/master.pid, as
// under sudo or cron. Output goes to files, as in runCLI.
func cliEnv(t *testing.T, tmp string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	dir := t.TempDir()
	outF, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer outF.Close()
	errF, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errF.Close()
	ctx, cancel := context.WithTimeout(context.Background(), cliTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, masterBin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(kv, "TMPDIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "TMPDIR="+tmp)
	cmd.Stdout, cmd.Stderr = outF, errF
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	o, _ := os.ReadFile(outF.Name())
	e, _ := os.ReadFile(errF.Name())
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("master %s did not finish within %s\n%s%s", strings.Join(args, " "), cliTimeout, o, e)
	case runErr == nil:
	case errors.As(runErr, &exitErr) && exitErr.Exited():
		code = exitErr.ExitCode()
	default:
		t.Fatalf("master %s: %v", strings.Join(args, " "), runErr)
	}
	return string(o), string(e), code
}

// defaultRunDir is the default pid file's folder under TMPDIR=tmp.
func defaultRunDir(tmp string) string {
	return filepath.Join(tmp, fmt.Sprintf("wsfleet-%d", os.Getuid()))
}

// wantRefusal checks that a command exited 1 saying why.
func wantRefusal(t *testing.T, what, stderr string, code int, why ...string) {
	t.Helper()
	if code != 1 {
		t.Errorf("%s exited %d, want 1 (refused); stderr:\n%s", what, code, stderr)
	}
	mustContain(t, what+"'s stderr", stderr, why...)
}

// fakeMaster is the attacker's master: a process to stand for its pid (the
// test kills it when asked to stop), a locked pid file naming it and a
// control socket that answers "info" with startArgs, as the old restart
// asked.
type fakeMaster struct {
	proc *exec.Cmd
}

func startFakeMaster(t *testing.T, dir string, owner int, startArgs []string) *fakeMaster {
	t.Helper()
	f := &fakeMaster{proc: exec.Command("sleep", "600")}
	if err := f.proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.proc.Process.Kill(); f.proc.Wait() })
	pid := f.proc.Process.Pid
	pidFile, err := os.OpenFile(filepath.Join(dir, "master.pid"), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pidFile.Close() })
	if _, err := pidFile.WriteString(strconv.Itoa(pid) + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(pidFile.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "master.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	for _, p := range []string{pidFile.Name(), filepath.Join(dir, "master.sock")} {
		if err := os.Lchown(p, owner, owner); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go ctl.NewConn(c).Serve(context.Background(), func(_ context.Context, op string, _ json.RawMessage) (any, error) {
				switch op {
				case "info":
					return map[string]any{"pid": pid, "start_args": startArgs}, nil
				case "stop":
					f.proc.Process.Kill()
					return "stopping", nil
				}
				return nil, fmt.Errorf("fake master: %s", op)
			})
		}
	}()
	return f
}

// markerWorker writes a -worker-bin that, if ever run, leaves marker.
func markerWorker(t *testing.T) (bin, marker string) {
	t.Helper()
	dir := t.TempDir()
	bin, marker = filepath.Join(dir, "evil-worker"), filepath.Join(dir, "MARKER")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho ran as $(id -u) > "+marker+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, marker
}

// TestControlDirOfAnotherUser: the default folder, created first by
// nobody, holds links to a victim's files and a fake master naming an evil
// -worker-bin. start, restart, stop and status refuse it, saying whose it
// is; the victim's files are untouched and the evil worker never runs.
func TestControlDirOfAnotherUser(t *testing.T) {
	t.Parallel()
	needRoot(t)
	tmp := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := defaultRunDir(tmp)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, "master.log")); err != nil {
		t.Fatal(err)
	}
	evil, marker := markerWorker(t)
	fake := startFakeMaster(t, dir, nobody, []string{"-count", "1", "-nats-listen", "127.0.0.1:0", "-listen", freeAddr(t), "-worker-bin", evil})

	owner := fmt.Sprintf("%s is owned by uid %d, not by us", dir, nobody)
	_, errOut, code := cliEnv(t, tmp, "start", "-d", "-count", "1", "-listen", freeAddr(t), "-nats-listen", "127.0.0.1:0")
	wantRefusal(t, "start -d", errOut, code, owner, "refusing")
	_, errOut, code = cliEnv(t, tmp, "restart", "-d")
	wantRefusal(t, "restart -d", errOut, code, owner)
	_, errOut, code = cliEnv(t, tmp, "stop")
	wantRefusal(t, "stop", errOut, code, owner)
	_, errOut, code = cliEnv(t, tmp, "status")
	wantRefusal(t, "status", errOut, code, owner)

	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
		t.Errorf("the victim's file now holds %q (%v)", b, err)
	}
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("the fake master's -worker-bin ran: %s", b)
	}
	if !processAlive(fake.proc.Process.Pid) {
		t.Error("the fake master was told to stop: the command trusted its socket")
	}
}

// TestControlDirRefused: a folder of ours that others may write, or that is
// a link, and a pid file or log file that is a link, are each refused with
// the reason; the link's target is untouched.
func TestControlDirRefused(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(base, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	linked := filepath.Join(base, "linked")
	if err := os.Symlink(private, linked); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(private, "master.pid")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ pidFile, why string }{
		{filepath.Join(open, "master.pid"), "writable by others (mode 0777)"},
		{filepath.Join(linked, "master.pid"), linked + " is a symbolic link"},
		{filepath.Join(private, "master.pid"), "master.pid is a symbolic link"},
	} {
		_, errOut, code := cli(t, "start", "-d", "-count", "1", "-listen", freeAddr(t), "-nats-listen", "127.0.0.1:0", "-pid-file", tc.pidFile)
		wantRefusal(t, "start -pid-file "+tc.pidFile, errOut, code, tc.why)
	}
	// A -log-file that is a link: the daemon is never started.
	logLink := filepath.Join(base, "master.log")
	if err := os.Symlink(victim, logLink); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(base, "fresh", "master.pid")
	_, errOut, code := cli(t, "start", "-d", "-count", "1", "-listen", freeAddr(t), "-nats-listen", "127.0.0.1:0", "-pid-file", fresh, "-log-file", logLink)
	wantRefusal(t, "start -log-file "+logLink, errOut, code, "master.log is a symbolic link")
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
		t.Errorf("the victim's file now holds %q (%v)", b, err)
	}
}

// TestRestartIgnoresControlSocket: even in our own folder, whatever answers
// on the control socket does not choose what restart runs: with no start
// arguments saved by a master, restart refuses before stopping anything,
// and the -worker-bin the socket names never runs.
func TestRestartIgnoresControlSocket(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	evil, marker := markerWorker(t)
	fake := startFakeMaster(t, dir, os.Getuid(), []string{"-count", "1", "-nats-listen", "127.0.0.1:0", "-listen", freeAddr(t), "-worker-bin", evil})
	_, errOut, code := cli(t, "restart", "-d", "-pid-file", filepath.Join(dir, "master.pid"))
	wantRefusal(t, "restart -d", errOut, code, "no saved start arguments")
	if b, err := os.ReadFile(marker); err == nil {
		t.Errorf("the -worker-bin named on the control socket ran: %s", b)
	}
	if !processAlive(fake.proc.Process.Pid) {
		t.Error("restart stopped the master before finding it had nothing to replay")
	}
}

// TestDefaultControlDir: without XDG_RUNTIME_DIR the master makes its
// folder 0700 under TMPDIR, keeps its pid file, socket, log (0600) and
// start arguments there, and restart -d replays those arguments.
func TestDefaultControlDir(t *testing.T) {
	t.Parallel()
	tmp := t.TempDir()
	dir := defaultRunDir(tmp)
	addr := freeAddr(t)
	_, errOut, code := cliEnv(t, tmp, "start", "-d", "-count", "1", "-app", "echo", "-listen", addr, "-nats-listen", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("start -d exited %d: %s", code, errOut)
	}
	pidFile := filepath.Join(dir, "master.pid")
	t.Cleanup(func() {
		if _, err := os.Stat(pidFile); err == nil {
			cliEnv(t, tmp, "stop")
		}
		if t.Failed() {
			t.Logf("log:\n%s", tail(filepath.Join(dir, "master.log")))
		}
	})
	st, err := queryStatus(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
		t.Fatalf("%s: %v %v, want a 0700 directory", dir, fi.Mode(), err)
	}
	for name, perm := range map[string]os.FileMode{"master.log": 0o600, "master.args": 0o600, "master.sock": 0o600} {
		fi, err := os.Lstat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != perm {
			t.Errorf("%s: %v %v, want mode %v", name, fi.Mode(), err, perm)
		}
	}
	_, errOut, code = cliEnv(t, tmp, "restart", "-d")
	if code != 0 {
		t.Fatalf("restart -d exited %d: %s", code, errOut)
	}
	waitFor(t, readyTimeout, func() error {
		st2, err := queryStatus(pidFile)
		if err != nil {
			return err
		}
		if st2.Master.PID == st.Master.PID || st2.Master.Listen != st.Master.Listen || st2.Master.App != "echo" {
			return fmt.Errorf("after restart: %+v", st2.Master)
		}
		return allRunning(st2, 1)
	})
	if _, errOut, code = cliEnv(t, tmp, "stop"); code != 0 {
		t.Fatalf("stop exited %d: %s", code, errOut)
	}
	if err := syscall.Kill(st.Master.PID, 0); err == nil && processAlive(st.Master.PID) {
		t.Errorf("the first master (pid %d) still runs", st.Master.PID)
	}
}
