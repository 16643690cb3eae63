package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Issue 13, point 7: under systemd (Type=notify) the master reports its
// state on $NOTIFY_SOCKET. This machine's PID 1 is not systemd, so no real
// transient unit (systemd-run) can run here: the test stands in for
// systemd with a unixgram socket of its own and checks each datagram's
// sender with SO_PASSCRED, as systemd does for NotifyAccess=main.

// notifySocket is a socket like systemd's notify socket, read by the test
// itself (no goroutine: a datagram sent before some event is readable at
// once after it).
type notifySocket struct {
	t        *testing.T
	path     string
	conn     *net.UnixConn
	statuses []string // the STATUS= lines seen
}

func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1) }); err != nil || serr != nil {
		t.Fatalf("SO_PASSCRED: %v %v", err, serr)
	}
	return &notifySocket{t: t, path: path, conn: conn}
}

// pending is the size of the datagram waiting in the socket, 0 if none.
func (s *notifySocket) pending() int {
	raw, err := s.conn.SyscallConn()
	if err != nil {
		s.t.Fatal(err)
	}
	var n int
	var ierr error
	if err := raw.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil || ierr != nil {
		s.t.Fatalf("SIOCINQ: %v %v", err, ierr)
	}
	return n
}

// next returns the next state that is not a STATUS= line, read by
// deadline, failing the test when it was sent by another process than pid
// (systemd's NotifyAccess=main would drop it).
func (s *notifySocket) next(pid int, deadline time.Time, what string) string {
	t := s.t
	t.Helper()
	s.conn.SetReadDeadline(deadline)
	buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	for {
		n, oobn, _, _, err := s.conn.ReadMsgUnix(buf, oob)
		if err != nil {
			t.Fatalf("no notification (%s): %v", what, err)
		}
		state, sender := string(buf[:n]), int32(-1)
		if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil && len(msgs) == 1 {
			if cred, err := unix.ParseUnixCredentials(&msgs[0]); err == nil {
				sender = cred.Pid
			}
		}
		if sender != int32(pid) {
			t.Errorf("%q came from pid %d, not the master (%d)", state, sender, pid)
		}
		if line, ok := strings.CutPrefix(state, "STATUS="); ok {
			s.statuses = append(s.statuses, line)
			continue
		}
		return state
	}
}

// startNotified runs `master start` in the foreground like startCluster,
// with NOTIFY_SOCKET in its environment.
func startNotified(t *testing.T, c *cluster, socket string) {
	t.Helper()
	c.fgOut = filepath.Join(c.dir, "master.out")
	out, err := os.Create(c.fgOut)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	c.fg = exec.Command(masterBin, append([]string{"start"}, c.startArgs()...)...)
	c.fg.Env = append(os.Environ(), "NOTIFY_SOCKET="+socket)
	c.fg.Stdout, c.fg.Stderr = out, out
	if err := c.fg.Start(); err != nil {
		t.Fatal(err)
	}
	c.notePID(c.fg.Process.Pid)
	c.fgDone = make(chan struct{})
	go func() { c.fgErr = c.fg.Wait(); close(c.fgDone) }()
}

func environ(t *testing.T, pid int) []byte {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func monotonicUsec(t *testing.T) int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		t.Fatal(err)
	}
	return ts.Nano() / 1000
}

// TestSystemdNotify: READY=1 once every worker accepts; RELOADING=1 with
// MONOTONIC_USEC, then READY=1, around `master reload`; STOPPING=1 on
// stop; a STATUS= line; every one from the master's pid; and the workers'
// environment has no NOTIFY_SOCKET.
func TestSystemdNotify(t *testing.T) {
	ns := newNotifySocket(t)
	socket := ns.path
	c := newCluster(t, clusterOpts{count: 2})
	startNotified(t, c, socket)
	pid := c.fg.Process.Pid

	if got := ns.next(pid, time.Now().Add(readyTimeout), "READY=1 after start"); got != "READY=1" {
		t.Fatalf("first state %q, want READY=1", got)
	}
	// READY=1 means accepting: without waiting, every worker runs and a
	// client connects.
	st, err := c.tryStatus()
	if err != nil {
		t.Fatalf("status right after READY=1: %v", err)
	}
	if err := allRunning(st, 2); err != nil {
		t.Fatalf("READY=1 before the workers accept: %v", err)
	}
	c.dial().close()

	if env := environ(t, pid); !bytes.Contains(env, []byte("NOTIFY_SOCKET="+socket)) {
		t.Fatalf("the master's environment lacks NOTIFY_SOCKET: the check below would prove nothing")
	}
	checkWorkersEnv := func(st *statusJSON) {
		for _, w := range st.Workers {
			for _, kv := range bytes.Split(environ(t, w.PID), []byte{0}) {
				if bytes.HasPrefix(kv, []byte("NOTIFY_SOCKET=")) {
					t.Errorf("worker %d (pid %d) inherited %s", w.Slot, w.PID, kv)
				}
			}
		}
	}
	checkWorkersEnv(st)

	before := monotonicUsec(t)
	c.mustCLI("reload")
	after := monotonicUsec(t)
	// The reload verb returns once the reload is done, and the master sent
	// its states before the answer: they are in the socket already.
	if ns.pending() == 0 {
		t.Fatal("the reload verb returned before the master notified anything")
	}
	now := time.Now().Add(5 * time.Second)
	got := ns.next(pid, now, "RELOADING=1")
	state, usec, _ := strings.Cut(got, "\n")
	us, err := strconv.ParseInt(strings.TrimPrefix(usec, "MONOTONIC_USEC="), 10, 64)
	if state != "RELOADING=1" || err != nil || us < before || us > after {
		t.Fatalf("reload began with %q, want RELOADING=1 and MONOTONIC_USEC in [%d, %d]", got, before, after)
	}
	if got := ns.next(pid, now, "READY=1 when the reload ended"); got != "READY=1" {
		t.Fatalf("after the reload: %q, want READY=1", got)
	}
	checkWorkersEnv(c.waitRunning(readyTimeout))

	c.mustCLI("stop")
	if got := ns.next(pid, time.Now().Add(30*time.Second), "STOPPING=1"); got != "STOPPING=1" {
		t.Fatalf("on stop: %q, want STOPPING=1", got)
	}
	if code := c.waitFgExit(30 * time.Second); code != 0 {
		t.Fatalf("master exited %d", code)
	}
	// STATUS= lines: one before READY=1, one after the reload.
	if len(ns.statuses) < 2 || ns.statuses[0] != "2/2 workers running, 0 connections" {
		t.Errorf("STATUS lines %q, want at least 2, the first \"2/2 workers running, 0 connections\"", ns.statuses)
	}
}

// TestSystemdNotifyRefusesDaemon: under systemd (NOTIFY_SOCKET set),
// `start -d` is a usage error naming -d: the daemon would not be the
// service's main process, and Type=notify would wait for nothing.
func TestSystemdNotifyRefusesDaemon(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(masterBin, "start", "-d", "-listen", freeAddr(t), "-pid-file", filepath.Join(dir, "master.pid"))
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+filepath.Join(dir, "notify.sock"))
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 2 || !strings.Contains(string(out), "-d: run by systemd") {
		t.Fatalf("start -d under NOTIFY_SOCKET: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "master.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused start left a pid file (%v)", err)
	}
}
