package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds a cluster's start; the race detector makes it slow.
const readyTimeout = 30 * time.Second

// clusterOpts are the `master start` flags a test cares about. Zero values
// mean the defaults below, which differ from the binary's where a test
// needs them to (an echo app, a random NATS port).
type clusterOpts struct {
	count        int           // -count; default 4
	app          string        // -app; default "echo"
	pushInterval time.Duration // -push-interval; 0 leaves the binary's default
	grace        time.Duration // -grace; 0 leaves the binary's default
	maxMessage   string        // -max-message; "" leaves the binary's default
	nats         string        // -nats; "" runs the embedded server on 127.0.0.1:0
	daemon       bool          // start with -d instead of in the foreground
	pidFile      string        // -pid-file; default master.pid in a temp dir
	extra        []string      // more flags, passed last
	env          []string      // more environment (KEY=VALUE) for a foreground master and its workers
}

// cluster is one running master with its workers, started by startCluster.
type cluster struct {
	t       *testing.T
	opts    clusterOpts
	addr    string // the WebSocket address, 127.0.0.1:PORT
	dir     string // the temp dir holding the pid file and the logs
	pidFile string

	fg     *exec.Cmd     // the foreground master; nil with -d
	fgDone chan struct{} // closed once fg has exited
	fgErr  error         // fg's exit, valid once fgDone is closed
	fgOut  string        // file holding fg's stdout and stderr

	bg []*bgProc // `master` commands left running by the test; see runBackground

	mu   sync.Mutex
	pids map[int]bool // every master and worker pid seen for this cluster
}

// startCluster starts `master start` with opts on a free loopback port and
// returns once `status -json` shows every worker running. Its cleanup stops
// the cluster if it still runs, then checks that every process it saw has
// exited and that the pid file is gone; on failure it dumps the logs.
func startCluster(t *testing.T, opts clusterOpts) *cluster {
	t.Helper()
	c := newCluster(t, opts)
	if opts.daemon {
		_, errOut, code := cli(t, append([]string{"start", "-d"}, c.startArgs()...)...)
		if code != 0 {
			t.Fatalf("start -d exited %d: %s", code, errOut)
		}
	} else {
		c.startForeground()
	}
	c.waitRunning(readyTimeout)
	return c
}

// newCluster prepares a cluster (address, pid file, cleanup) without
// starting it, for tests that run `master start` themselves.
func newCluster(t *testing.T, opts clusterOpts) *cluster {
	t.Helper()
	if opts.count == 0 {
		opts.count = 4
	}
	if opts.app == "" {
		opts.app = "echo"
	}
	c := &cluster{t: t, opts: opts, dir: t.TempDir(), pids: make(map[int]bool)}
	c.pidFile = opts.pidFile
	if c.pidFile == "" {
		c.pidFile = filepath.Join(c.dir, "master.pid")
	} else {
		c.dir = filepath.Dir(c.pidFile) // where a daemon's log lands by default
	}
	c.addr = freeAddr(t)
	t.Cleanup(c.cleanup)
	return c
}

// startArgs are the flags of `master start`, without -d.
func (c *cluster) startArgs() []string {
	o := c.opts
	args := []string{
		"-listen", c.addr,
		"-pid-file", c.pidFile,
		"-count", strconv.Itoa(o.count),
		"-app", o.app,
	}
	if o.nats != "" {
		args = append(args, "-nats", o.nats)
	} else {
		args = append(args, "-nats-listen", "127.0.0.1:0", "-nats-backend-password-file", backendSecretFile())
	}
	if o.pushInterval > 0 {
		args = append(args, "-push-interval", o.pushInterval.String())
	}
	if o.grace > 0 {
		args = append(args, "-grace", o.grace.String())
	}
	if o.maxMessage != "" {
		args = append(args, "-max-message", o.maxMessage)
	}
	return append(args, o.extra...)
}

// startForeground runs `master start` as a child of the test, its output
// going to a file that cleanup dumps when the test failed.
func (c *cluster) startForeground() {
	t := c.t
	c.fgOut = filepath.Join(c.dir, "master.out")
	out, err := os.Create(c.fgOut)
	if err != nil {
		t.Fatalf("master output file: %v", err)
	}
	defer out.Close()
	c.fg = exec.Command(masterBin, append([]string{"start"}, c.startArgs()...)...)
	c.fg.Stdout, c.fg.Stderr = out, out
	if len(c.opts.env) > 0 {
		c.fg.Env = append(os.Environ(), c.opts.env...)
	}
	if err := c.fg.Start(); err != nil {
		t.Fatalf("master start: %v", err)
	}
	c.notePID(c.fg.Process.Pid)
	c.fgDone = make(chan struct{})
	go func() {
		c.fgErr = c.fg.Wait()
		close(c.fgDone)
	}()
}

// fgExited reports whether the foreground master has exited.
func (c *cluster) fgExited() bool {
	if c.fg == nil {
		return false
	}
	select {
	case <-c.fgDone:
		return true
	default:
		return false
	}
}

// waitFgExit waits up to timeout for the foreground master to exit and
// returns its exit code.
func (c *cluster) waitFgExit(timeout time.Duration) int {
	c.t.Helper()
	waitChan(c.t, c.fgDone, timeout, "foreground master exit")
	var exitErr *exec.ExitError
	switch {
	case c.fgErr == nil:
		return 0
	case errors.As(c.fgErr, &exitErr):
		return exitErr.ExitCode()
	default:
		c.t.Fatalf("foreground master: %v", c.fgErr)
		return -1
	}
}

// notePID remembers pid as a process of this cluster.
func (c *cluster) notePID(pid int) {
	notePID(pid)
	c.mu.Lock()
	c.pids[pid] = true
	c.mu.Unlock()
}

// seenPIDs returns every pid noted for this cluster.
func (c *cluster) seenPIDs() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int
	for pid := range c.pids {
		out = append(out, pid)
	}
	return out
}

// tryStatus is queryStatus for this cluster, noting the pids it shows.
func (c *cluster) tryStatus() (*statusJSON, error) {
	st, err := queryStatus(c.pidFile)
	if err != nil {
		return nil, err
	}
	c.notePID(st.Master.PID)
	for _, w := range st.Workers {
		c.notePID(w.PID)
	}
	return st, nil
}

// status returns `master status -json` or fails the test.
func (c *cluster) status() *statusJSON {
	c.t.Helper()
	st, err := c.tryStatus()
	if err != nil {
		c.t.Fatalf("status: %v", err)
	}
	return st
}

// waitRunning polls status until every worker is running and returns it.
// It fails at once if the foreground master exits meanwhile.
func (c *cluster) waitRunning(timeout time.Duration) *statusJSON {
	c.t.Helper()
	var st *statusJSON
	waitFor(c.t, timeout, func() error {
		if c.fgExited() {
			c.t.Fatalf("master exited before its workers ran: %v\n%s", c.fgErr, tail(c.fgOut))
		}
		s, err := c.tryStatus()
		if err != nil {
			return err
		}
		if err := allRunning(s, c.opts.count); err != nil {
			return err
		}
		st = s
		return nil
	})
	return st
}

// cli runs `master verb -pid-file F args...`.
func (c *cluster) cli(verb string, args ...string) (stdout, stderr string, exitCode int) {
	c.t.Helper()
	return cli(c.t, append([]string{verb, "-pid-file", c.pidFile}, args...)...)
}

// mustCLI runs c.cli and fails unless it exits 0.
func (c *cluster) mustCLI(verb string, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.cli(verb, args...)
	if code != 0 {
		c.t.Fatalf("master %s %v exited %d\nstdout:\n%s\nstderr:\n%s", verb, args, code, out, errOut)
	}
	return out
}

// connections returns `master connections -json` or fails the test.
func (c *cluster) connections() *connectionsJSON {
	c.t.Helper()
	cs, err := queryConnections(c.pidFile)
	if err != nil {
		c.t.Fatalf("connections: %v", err)
	}
	return cs
}

// owners waits until every client is listed by `connections -json` and
// returns each client's row, found by its local address.
func (c *cluster) owners(clients []*wsClient) map[*wsClient]connJSON {
	c.t.Helper()
	var out map[*wsClient]connJSON
	waitFor(c.t, 15*time.Second, func() error {
		cs, err := queryConnections(c.pidFile)
		if err != nil {
			return err
		}
		byRemote := make(map[string]connJSON, len(cs.Connections))
		for _, cj := range cs.Connections {
			byRemote[cj.Remote] = cj
		}
		out = make(map[*wsClient]connJSON, len(clients))
		for _, cl := range clients {
			cj, ok := byRemote[cl.local]
			if !ok {
				return fmt.Errorf("client %s not among %d listed connections", cl.local, len(cs.Connections))
			}
			out[cl] = cj
		}
		return nil
	})
	return out
}

// dial opens a WebSocket client to the cluster.
func (c *cluster) dial() *wsClient {
	c.t.Helper()
	return dialWS(c.t, c.addr)
}

// dialN opens n clients.
func (c *cluster) dialN(n int) []*wsClient {
	c.t.Helper()
	out := make([]*wsClient, n)
	for i := range out {
		out[i] = c.dial()
	}
	return out
}

// waitGone waits until no process of this cluster is alive and the pid file
// is gone.
func (c *cluster) waitGone(timeout time.Duration) {
	c.t.Helper()
	waitFor(c.t, timeout, func() error {
		for _, pid := range c.seenPIDs() {
			if processAlive(pid) {
				return fmt.Errorf("process %d still alive", pid)
			}
		}
		if _, err := os.Stat(c.pidFile); !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("pid file %s still there (%v)", c.pidFile, err)
		}
		return nil
	})
}

// cleanup stops the cluster if it still answers, then checks that nothing
// is left; as a last resort it kills what is.
func (c *cluster) cleanup() {
	t := c.t
	if _, err := c.tryStatus(); err == nil {
		_, errOut, code, err := runCLI(cliTimeout, "stop", "-pid-file", c.pidFile)
		if err != nil || code != 0 {
			t.Errorf("cleanup: stop exited %d (%v): %s", code, err, errOut)
		}
	}
	if c.fg != nil {
		timer := time.NewTimer(30 * time.Second)
		select {
		case <-c.fgDone:
			timer.Stop()
			if c.fgErr != nil {
				t.Errorf("cleanup: foreground master exited with %v", c.fgErr)
			}
		case <-timer.C:
			t.Errorf("cleanup: foreground master still running 30s after stop")
		}
	}
	for _, p := range c.bg {
		if code, err := p.wait(30 * time.Second); err != nil || code != 0 {
			t.Errorf("cleanup: master %v exited %d (%v)\n%s", p.args, code, err, tail(p.out))
		}
	}
	if err := poll(15*time.Second, func() error {
		if pids := ourProcessesMentioning(c.pidFile); len(pids) > 0 {
			return fmt.Errorf("processes %v still run with %s on their command line", pids, c.pidFile)
		}
		for _, pid := range c.seenPIDs() {
			if processAlive(pid) {
				return fmt.Errorf("process %d (master or worker) still alive after stop", pid)
			}
		}
		return nil
	}); err != nil {
		t.Errorf("cleanup: %v", err)
		for _, pid := range append(c.seenPIDs(), ourProcessesMentioning(c.pidFile)...) {
			if processAlive(pid) && isOurBinary(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if _, err := os.Stat(c.pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cleanup: pid file %s left behind (%v)", c.pidFile, err)
	}
	for _, f := range c.logFiles() {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte("WARNING: DATA RACE")) {
			t.Errorf("cleanup: the race detector reported a data race in %s", f)
		}
	}
	if t.Failed() {
		for _, f := range c.logFiles() {
			c.t.Logf("==== %s ====\n%s", f, tail(f))
		}
	}
}

// logFiles lists every file the cluster's processes wrote to: the
// foreground master's output, background commands' output, daemon logs.
func (c *cluster) logFiles() []string {
	files, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
	for _, p := range c.bg {
		files = append([]string{p.out}, files...)
	}
	if c.fgOut != "" {
		files = append([]string{c.fgOut}, files...)
	}
	return files
}
