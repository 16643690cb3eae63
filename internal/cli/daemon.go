package cli

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/internal/master"
)

// daemonEnv tells the re-executed master which inherited fd reports
// readiness to the command line that started it.
const daemonEnv = "WSFLEET_READY_FD"

// daemonize starts this program again, detached (new session, no terminal,
// output to the log file), and waits for it to say "ok <pid>" or
// "error <reason>" on a pipe. Go cannot fork without exec, so the child is a
// fresh process running the same start command.
func daemonize(env Env, f *startFlags, args []string) int {
	logPath := f.cfg.LogFile
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return fail(env, fmt.Errorf("-log-file: %w", err))
	}
	// Not through a link, and only a file of ours (issue 11: a planted
	// link had root append its log to a file of another user's choice).
	logf, err := master.OpenLog(logPath)
	if err != nil {
		return fail(env, err)
	}
	defer logf.Close()
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		return fail(env, err)
	}
	defer devnull.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return fail(env, err)
	}
	defer r.Close()
	exe, err := os.Executable()
	if err != nil {
		w.Close()
		return fail(env, err)
	}
	cmd := exec.Command(exe, append([]string{"start"}, args...)...)
	cmd.Env = append(os.Environ(), daemonEnv+"=3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, logf, logf
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return fail(env, fmt.Errorf("start daemon: %w", err))
	}
	// The daemon outlives us; reap nothing.
	cmd.Process.Release()
	line, _ := bufio.NewReader(r).ReadString('\n')
	line = strings.TrimSpace(line)
	switch {
	case strings.HasPrefix(line, "ok "):
		fmt.Fprintf(env.Stdout, "wsfleet started: master pid %s, listening on %s, log %s\n",
			strings.TrimPrefix(line, "ok "), f.cfg.Listen, logPath)
		return ExitOK
	case strings.HasPrefix(line, "error "):
		fmt.Fprintln(env.Stderr, strings.TrimPrefix(line, "error "))
		return ExitFailure
	default:
		fmt.Fprintf(env.Stderr, "master: the daemon exited before it was ready; see %s\n", logPath)
		return ExitFailure
	}
}

// readyPipe returns the pipe to report readiness on when this process is a
// daemon started by daemonize, or nil.
func readyPipe() *os.File {
	v := os.Getenv(daemonEnv)
	if v == "" {
		return nil
	}
	os.Unsetenv(daemonEnv) // not for the workers
	fd, err := strconv.Atoi(v)
	if err != nil {
		return nil
	}
	unix.CloseOnExec(fd) // keep it out of the workers
	return os.NewFile(uintptr(fd), "ready")
}
