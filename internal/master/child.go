package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/internal/ctl"
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

// execStarter starts real worker processes.
type execStarter struct{ m *Master }

func (s execStarter) start(ctx context.Context, slot int, ln net.Listener) (process, error) {
	return s.m.startChild(ctx, slot, ln)
}

// execProcess is one worker process.
type execProcess struct {
	slot    int
	pid     int
	cmd     *exec.Cmd
	ctl     *ctl.Client
	exited  chan struct{}
	exitErr error // valid once exited is closed
}

// startChild starts a worker for slot on listener ln and waits until it is
// ready, has failed, or timeout passes (then it is killed).
func (m *Master) startChild(ctx context.Context, slot int, ln net.Listener) (*execProcess, error) {
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

	auth, err := m.authPipe() // issue 11: the bus credentials, off argv (busauth.go)
	if err != nil {
		ctlConn.Close()
		return nil, err
	}
	defer auth.Close()

	cmd := exec.Command(m.opts.WorkerBin, m.workerArgs(slot)...)
	cmd.Stdout = m.logOut
	cmd.Stderr = m.logOut
	cmd.ExtraFiles = []*os.File{theirs, lnFile, auth} // fd 3, fd 4, fd 5 (-nats-auth-fd)
	// Own process group: a terminal's Ctrl-C goes to the master, which
	// stops the workers in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		ctlConn.Close()
		return nil, fmt.Errorf("master: start worker %d (%s): %w", slot, m.opts.WorkerBin, err)
	}
	c := &execProcess{
		slot: slot, pid: cmd.Process.Pid, cmd: cmd,
		ctl: ctl.NewClient(ctlConn), exited: make(chan struct{}),
	}
	m.wg.Go(func() {
		c.exitErr = cmd.Wait()
		c.ctl.Close()
		close(c.exited)
	})
	if err := c.waitReady(ctx, m.opts.ReadyTimeout); err != nil {
		_ = c.Signal(syscall.SIGKILL)
		<-c.exited
		return nil, fmt.Errorf("master: worker %d (pid %d) did not start: %w", slot, c.pid, err)
	}
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
		"-max-conns", strconv.Itoa(Share(o.MaxConns, o.Count)),
		"-max-conns-per-ip", strconv.Itoa(Share(o.MaxConnsPerIP, o.Count)),
		"-max-request-head", strconv.FormatInt(o.MaxRequestHead, 10),
		"-nats-auth-fd", "5", // issue 11: see authPipe
		// Issue 10: memory and the echo app.
		"-memory-limit", strconv.FormatInt(o.MemoryLimit, 10),
		"-echo-prefix", o.EchoPrefix,
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

// waitReady waits for the worker's ctl.EventReady.
func (c *execProcess) waitReady(ctx context.Context, timeout time.Duration) error {
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
			case ctl.EventReady:
				return nil
			case ctl.EventFailed:
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

func (c *execProcess) PID() int                { return c.pid }
func (c *execProcess) Exited() <-chan struct{} { return c.exited }

func (c *execProcess) Signal(sig os.Signal) error { return c.cmd.Process.Signal(sig) }

func (c *execProcess) Call(ctx context.Context, op string, args, result any) error {
	return c.ctl.Call(ctx, op, args, result)
}

func (c *execProcess) CallStream(ctx context.Context, op string, args any, each func(json.RawMessage) error, result any) error {
	return c.ctl.CallStream(ctx, op, args, each, result)
}

// exitStatus describes how the process ended.
func (c *execProcess) ExitStatus() string {
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
