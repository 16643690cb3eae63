package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// seen records every master and worker pid the tests observed, so that
// killLeftovers can clean up after a test that failed half-way.
var seen struct {
	sync.Mutex
	pids map[int]bool
}

// notePID remembers pid as one of ours.
func notePID(pid int) {
	if pid <= 0 {
		return
	}
	seen.Lock()
	defer seen.Unlock()
	if seen.pids == nil {
		seen.pids = make(map[int]bool)
	}
	seen.pids[pid] = true
}

// killLeftovers SIGKILLs every noted pid that is still alive and still runs
// one of our binaries (so a recycled pid is never hit).
func killLeftovers() {
	seen.Lock()
	defer seen.Unlock()
	for pid := range seen.pids {
		if processAlive(pid) && isOurBinary(pid) {
			fmt.Fprintf(os.Stderr, "e2e: killing leftover process %d\n", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// isOurBinary reports whether pid executes a file from binDir.
func isOurBinary(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && strings.HasPrefix(exe, binDir+string(filepath.Separator))
}

// processAlive reports whether pid exists and is not a zombie. Orphaned
// workers are reparented to whatever reaps (or does not reap) them in this
// container, so a zombie counts as gone.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state != 'Z' && state != 'X'
}

// bgProc is a `master` command running in the background of a test.
type bgProc struct {
	args []string
	out  string // file holding its stdout and stderr
	cmd  *exec.Cmd
	done chan struct{}
	err  error // valid once done is closed
}

// runBackground starts `master args...` without waiting for it; cleanup
// waits for it (after stopping the cluster) and expects exit 0. It serves
// commands that may or may not return before the cluster stops, such as a
// `restart` without -d.
func (c *cluster) runBackground(args ...string) *bgProc {
	c.t.Helper()
	p := &bgProc{args: args, out: filepath.Join(c.dir, fmt.Sprintf("bg%d.out", len(c.bg))), done: make(chan struct{})}
	f, err := os.Create(p.out)
	if err != nil {
		c.t.Fatalf("background output: %v", err)
	}
	defer f.Close()
	p.cmd = exec.Command(masterBin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		c.t.Fatalf("master %v: %v", args, err)
	}
	notePID(p.cmd.Process.Pid)
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	c.bg = append(c.bg, p)
	return p
}

// wait waits up to timeout for the command and returns its exit code; on
// timeout it kills the command and returns an error.
func (p *bgProc) wait(timeout time.Duration) (int, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return -1, fmt.Errorf("still running after %s", timeout)
	}
	var exitErr *exec.ExitError
	switch {
	case p.err == nil:
		return 0, nil
	case errors.As(p.err, &exitErr):
		return exitErr.ExitCode(), nil
	default:
		return -1, p.err
	}
}

// ourProcessesMentioning returns the live processes running one of the
// built binaries whose command line contains s (a cluster's unique pid-file
// path), so that a master no status ever showed is still found.
func ourProcessesMentioning(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !isOurBinary(pid) || !processAlive(pid) {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && bytes.Contains(cmdline, []byte(s)) {
			out = append(out, pid)
		}
	}
	return out
}
