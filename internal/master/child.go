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
	"sync/atomic"
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
	p, err := s.m.startChild(ctx, slot, ln)
	if err != nil {
		// Not p: a nil *execProcess in a process is not a nil process,
		// and the table would stop it (a restart during a reload's start).
		return nil, err
	}
	return p, nil
}

// execProcess is one worker process.
type execProcess struct {
	slot    int
	pid     int
	cmd     *exec.Cmd
	ctl     *ctl.Client
	exited  chan struct{}
	exitErr error // valid once exited is closed
	ready   atomic.Bool
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

	su := m.setup(slot)
	setup, err := ctl.SetupPipe(su) // the settings and bus credentials, off argv
	if err != nil {
		ctlConn.Close()
		return nil, err
	}
	defer setup.Close()

	out, err := m.workerOutput(slot)
	if err != nil {
		ctlConn.Close()
		return nil, err
	}
	defer out.Close() // the worker has its own copy
	cmd := exec.Command(m.workerBin, ctl.WorkerVerb, "-slot", strconv.Itoa(slot))
	cmd.Env = childEnv() // no NOTIFY_SOCKET (notify.go)
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.ExtraFiles = []*os.File{theirs, lnFile, setup} // ctl.ControlFD, ListenFD, SetupFD
	// Own process group: a terminal's Ctrl-C goes to the master, which
	// stops the workers in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		ctlConn.Close()
		return nil, fmt.Errorf("master: start worker %d (%s): %w", slot, m.workerBin, err)
	}
	c := &execProcess{
		slot: slot, pid: cmd.Process.Pid, cmd: cmd,
		ctl: ctl.NewClient(ctlConn), exited: make(chan struct{}),
	}
	m.wg.Go(func() {
		c.exitErr = cmd.Wait()
		if c.ready.Load() {
			m.finalMetrics(c) // before exited: the table still lists it
		}
		c.ctl.Close()
		close(c.exited)
	})
	if err := c.waitReady(ctx, m.opts.ReadyTimeout); err != nil {
		_ = c.Signal(syscall.SIGKILL)
		<-c.exited
		return nil, fmt.Errorf("master: worker %d (pid %d) did not start: %w", slot, c.pid, err)
	}
	c.ready.Store(true) // from now on nobody else reads its events
	if err := m.catchUpTicketKeys(ctx, c, su.TicketKeys.Gen); err != nil {
		// It serves, with keys one rotation old: its tickets resume
		// elsewhere until the next rotation.
		m.log.Error("worker missed a session ticket key rotation", "slot", slot, "pid", c.pid, "err", err)
	}
	return c, nil
}

// setup is what the worker of slot is told (see ctl.Setup).
func (m *Master) setup(slot int) ctl.Setup {
	o := m.opts
	cores := CoresFor(o.WorkerCores, o.Count, runtime.GOMAXPROCS(0))
	return ctl.Setup{
		Slot: slot, Config: o.Config, AppName: o.AppName, AppFlags: o.AppFlags,
		NATSURL: m.natsURL, NATSAuth: o.NATSAuth, TicketKeys: m.ticketKeys(),
		Cores:         cores,
		Procs:         cores,
		MaxConns:      Share(o.MaxConns, o.Count),
		MaxConnsPerIP: Share(o.MaxConnsPerIP, o.Count),
		MemoryLimit:   o.WorkerMemoryLimit,
	}
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
