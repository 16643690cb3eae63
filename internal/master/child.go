package master

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/internal/worker"
	"github.com/wsfleet/wsfleet/pkg/reuse"
)

// Worker states as status reports them.
const (
	stateStarting = "starting"
	stateRunning  = "running"
	stateBusy     = "busy"
	stateStopping = "stopping"
	stateDown     = "down"
)

// child is one worker process.
type child struct {
	slot    int
	pid     int
	cmd     *exec.Cmd
	ctl     *ctl.Client
	started time.Time
	state   atomic.Value // string
	exited  chan struct{}
	exitErr error // valid once exited is closed
}

// startChild starts a worker for slot on listener ln and waits until it is
// ready, has failed, or timeout passes (then it is killed).
func (m *Master) startChild(ctx context.Context, slot int, ln net.Listener) (*child, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("master: socketpair: %w", err)
	}
	ours := os.NewFile(uintptr(fds[0]), "control")
	theirs := os.NewFile(uintptr(fds[1]), "control-worker")
	defer theirs.Close()
	ctlConn, err := net.FileConn(ours)
	ours.Close()
	if err != nil {
		return nil, fmt.Errorf("master: control connection: %w", err)
	}
	lnFile, err := reuse.File(ln)
	if err != nil {
		ctlConn.Close()
		return nil, err
	}
	defer lnFile.Close()

	cmd := exec.Command(m.opts.WorkerBin, m.workerArgs(slot)...)
	cmd.Stdout = m.logOut
	cmd.Stderr = m.logOut
	cmd.ExtraFiles = []*os.File{theirs, lnFile} // fd 3, fd 4
	// Own process group: a terminal's Ctrl-C goes to the master, which
	// stops the workers in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		ctlConn.Close()
		return nil, fmt.Errorf("master: start worker %d (%s): %w", slot, m.opts.WorkerBin, err)
	}
	c := &child{
		slot: slot, pid: cmd.Process.Pid, cmd: cmd, started: time.Now(),
		ctl: ctl.NewClient(ctlConn), exited: make(chan struct{}),
	}
	c.state.Store(stateStarting)
	m.wg.Go(func() {
		c.exitErr = cmd.Wait()
		c.state.Store(stateDown)
		c.ctl.Close()
		close(c.exited)
	})
	if err := c.waitReady(ctx, m.opts.ReadyTimeout); err != nil {
		c.kill()
		<-c.exited
		return nil, fmt.Errorf("master: worker %d (pid %d) did not start: %w", slot, c.pid, err)
	}
	c.state.Store(stateRunning)
	return c, nil
}

func (m *Master) workerArgs(slot int) []string {
	o := m.opts
	args := []string{
		"-slot", strconv.Itoa(slot),
		"-node", o.Node,
		"-ctl-fd", "3", "-listen-fd", "4",
		"-nats", m.natsURL,
		"-cluster-name", o.ClusterName,
		"-app", o.App,
		"-push-interval", o.PushInterval.String(),
		"-max-message", strconv.FormatInt(o.MaxMessage, 10),
		"-send-buffer", strconv.FormatInt(o.SendBuffer, 10),
		"-log-level", o.LogLevel,
		"-demo-page=" + strconv.FormatBool(o.DemoPage),
		"-deflate=" + strconv.FormatBool(o.Deflate),
		"-cores", strconv.Itoa(CoresFor(o.WorkerCores, o.Count, runtime.GOMAXPROCS(0))),
		"-events=" + strconv.FormatBool(o.Events),
		"-ping-interval", o.PingInterval.String(),
		"-idle-timeout", o.IdleTimeout.String(),
		"-require-subprotocol=" + strconv.FormatBool(o.RequireSubprotocol),
	}
	// Issue 10, hub bounds.
	args = append(args, "-max-rooms", strconv.Itoa(o.MaxRooms))
	if o.TLSCert != "" {
		args = append(args, "-tls-cert", o.TLSCert, "-tls-key", o.TLSKey)
	}
	for flag, list := range map[string][]string{
		"-trusted-proxy": o.TrustedProxies, "-allow-origin": o.AllowOrigins, "-subprotocols": o.Subprotocols,
	} {
		if len(list) > 0 {
			args = append(args, flag, strings.Join(list, ","))
		}
	}
	args = append(args, authArgs(o)...)
	return args
}

// authArgs are the workers' client authentication flags (issue 11).
func authArgs(o Options) []string {
	var args []string
	if o.JWTSecretFile != "" {
		args = append(args, "-jwt-secret-file", o.JWTSecretFile)
	}
	if o.JWTKeyFile != "" {
		args = append(args, "-jwt-key-file", o.JWTKeyFile)
	}
	if o.JWTExpireClose {
		args = append(args, "-jwt-expire-close")
	}
	if len(o.EventHeaders) > 0 {
		args = append(args, "-events-headers", strings.Join(o.EventHeaders, ","))
	}
	return args
}

// waitReady waits for the worker's "ready" event.
func (c *child) waitReady(ctx context.Context, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-c.ctl.Events():
			if !ok {
				<-c.exited
				return fmt.Errorf("exited: %v", c.exitErr)
			}
			switch ev.Name {
			case "ready":
				return nil
			case "failed":
				var msg string
				_ = jsonString(ev.Data, &msg)
				return errors.New(msg)
			}
		case <-t.C:
			return fmt.Errorf("not ready within %s", timeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stop asks the worker to close its connections with code (gracefully:
// after up to grace) and waits for it to exit; a worker that has not exited
// grace plus killAfter later is killed.
func (c *child) stop(code int, graceful bool, grace time.Duration) {
	c.state.Store(stateStopping)
	req := worker.StopRequest{Code: code, Graceful: graceful, Grace: grace}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	err := c.ctl.Call(ctx, "stop", req, nil)
	cancel()
	if err != nil {
		select {
		case <-c.exited:
			return
		default:
		}
		// It cannot hear us: a SIGTERM is the same fast stop.
		c.cmd.Process.Signal(syscall.SIGTERM)
	}
	limit := killAfter
	if graceful {
		limit += grace
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		c.kill()
		<-c.exited
	}
}

// killAfter is how long a stopping worker may take beyond its grace: the
// gateway's close handshake bound (5s) plus a margin.
const killAfter = 10 * time.Second

func (c *child) kill() { c.cmd.Process.Kill() }

// exitStatus describes how the process ended.
func (c *child) exitStatus() string {
	var ee *exec.ExitError
	if errors.As(c.exitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "killed by signal " + strconv.Itoa(int(ws.Signal())) + " (" + ws.Signal().String() + ")"
		}
		return "exit status " + strconv.Itoa(ee.ExitCode())
	}
	if c.exitErr != nil {
		return c.exitErr.Error()
	}
	return "exit status 0"
}
