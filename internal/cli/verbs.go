package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/internal/master"
)

// dial finds the running master through its pid file and connects to its
// control socket.
func dial(pidFile string) (*ctl.Client, int, error) {
	pidFile = absPath(pidFile)
	pid, err := master.RunningPID(pidFile)
	if errors.Is(err, master.ErrNotRunning) {
		return nil, 0, fmt.Errorf("master: not running (no master holds %s)", pidFile)
	}
	if err != nil {
		return nil, 0, err
	}
	c, err := net.DialTimeout("unix", master.SocketPath(pidFile), 5*time.Second)
	if err != nil {
		return nil, pid, fmt.Errorf("master: pid %d holds %s but its control socket does not answer (still starting?): %w", pid, pidFile, err)
	}
	return ctl.NewClient(c), pid, nil
}

// stopFlags are the flags of stop, restart and reload.
type stopFlags struct {
	graceful *bool
	grace    *time.Duration
}

func addStopFlags(fsg interface {
	Bool(string, bool, string) *bool
	Duration(string, time.Duration, string) *time.Duration
}, what string) stopFlags {
	return stopFlags{
		graceful: fsg.Bool("g", false, "graceful: stop accepting, let clients finish for up to -grace, then close the rest"),
		grace:    fsg.Duration("grace", 0, "how long a graceful "+what+" waits for clients (default: the master's -grace)"),
	}
}

func (s stopFlags) validate() []string {
	if *s.grace < 0 {
		return []string{fmt.Sprintf("-grace must not be negative (got %s)", *s.grace)}
	}
	return nil
}

func runStop(ctx context.Context, env Env, args []string) int {
	fs, pidFile := newFlags(env, "stop", "[-g] [-grace DUR]",
		"Stop the running cluster. Every client gets close code 1001 (going away). With -g the\n"+
			"workers stop accepting, let clients finish for up to -grace, then close the rest with 1001.")
	sf := addStopFlags(fs, "stop")
	if code, ok := parseVerb(env, fs, pidFile, args); !ok {
		return code
	}
	if code := usageErrors(env, "stop", sf.validate()); code != 0 {
		return code
	}
	if err := stopMaster(ctx, *pidFile, sf); err != nil {
		return fail(env, err)
	}
	fmt.Fprintln(env.Stdout, "wsfleet stopped")
	return ExitOK
}

// stopMaster asks the master to stop and waits for its process to exit.
func stopMaster(ctx context.Context, pidFile string, sf stopFlags) error {
	c, pid, err := dial(pidFile)
	if err != nil {
		return err
	}
	defer c.Close()
	// Watch the process before asking, so its exit cannot be missed.
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("master: watch pid %d: %w", pid, err)
	}
	defer unix.Close(pidfd)
	callCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = c.Call(callCtx, ctl.OpStop, master.StopArgs{Graceful: *sf.graceful, Grace: *sf.grace}, nil)
	if err != nil && !errors.Is(err, ctl.ErrClosed) {
		// ErrClosed: a fast stop can end the master before its answer is
		// written; its exit, watched below, is the answer that counts.
		return fmt.Errorf("master: stop: %w", err)
	}
	// A graceful stop takes up to the grace (ours, or the master's up to
	// its default), plus the close handshakes; wait generously, bounded.
	limit := 30*time.Second + *sf.grace
	if *sf.graceful && *sf.grace == 0 {
		limit += 10 * time.Minute
	}
	return waitExit(pidfd, pid, limit)
}

// waitExit waits until the process behind pidfd has exited.
func waitExit(pidfd, pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("master: pid %d still running after %s", pid, limit)
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(min(left, time.Minute).Milliseconds())+1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("master: wait for pid %d: %w", pid, err)
		}
		if n > 0 {
			return nil
		}
	}
}

func runReload(ctx context.Context, env Env, args []string) int {
	fs, pidFile := newFlags(env, "reload", "[-g] [-grace DUR]",
		"Replace the workers: every replacement accepts on the port before any old worker stops,\n"+
			"so the port never stops accepting. Each old worker hands its live ws:// connections to its\n"+
			"replacement, unnoticed by the clients (-handoff, on by default); clients it cannot hand off\n"+
			"(-handoff=false, TLS, -webhook, -jwt-expire-close, an app without app.Handoffer) get close\n"+
			"code 1012 (service restart) and reconnect to new workers. With -g there is no hand-off: the\n"+
			"old workers let their clients finish for up to -grace, then send 1012. A replacement that\n"+
			"cannot start, or a hand-off that fails, ends the reload (exit 1).")
	sf := addStopFlags(fs, "reload")
	if code, ok := parseVerb(env, fs, pidFile, args); !ok {
		return code
	}
	if code := usageErrors(env, "reload", sf.validate()); code != 0 {
		return code
	}
	c, _, err := dial(*pidFile)
	if err != nil {
		return fail(env, err)
	}
	defer c.Close()
	if err := c.Call(ctx, ctl.OpReload, master.StopArgs{Graceful: *sf.graceful, Grace: *sf.grace}, nil); err != nil {
		return fail(env, fmt.Errorf("master: reload: %w", err))
	}
	fmt.Fprintln(env.Stdout, "wsfleet reloaded")
	return ExitOK
}

func runRestart(ctx context.Context, env Env, args []string) int {
	fs, pidFile := newFlags(env, "restart", "[-d] [-g] [-grace DUR]",
		"Stop the running cluster (gracefully with -g), then start it again with the settings it was\n"+
			"started with, in the foreground, or as a daemon with -d. The settings are those the master saved\n"+
			"in its private folder (beside the pid file), never ones read from the control socket: its flags,\n"+
			"and the values its -config file and WSFLEET_* environment gave it then (to apply an edited\n"+
			"file, stop and start).")
	sf := addStopFlags(fs, "stop")
	daemon := fs.Bool("d", false, "start the new cluster as a daemon")
	if code, ok := parseVerb(env, fs, pidFile, args); !ok {
		return code
	}
	if code := usageErrors(env, "restart", sf.validate()); code != 0 {
		return code
	}
	// The arguments come from the file the master saved in its private
	// directory, checked before use, never from the control socket (issue
	// 11); read them before stopping, so a refusal stops nothing.
	pf := absPath(*pidFile)
	c, _, err := dial(pf)
	if err != nil {
		return fail(env, err)
	}
	c.Close()
	saved, err := master.LoadStart(pf)
	if err != nil {
		return fail(env, err)
	}
	if err := stopMaster(ctx, pf, sf); err != nil {
		return fail(env, err)
	}
	fmt.Fprintln(env.Stdout, "wsfleet stopped; starting")
	if err := os.Chdir(saved.Dir); err != nil {
		return fail(env, fmt.Errorf("master: restart: the start folder: %w", err))
	}
	// -pid-file first: the saved arguments name it too when they did.
	startArgs := append([]string{"-pid-file", pf}, saved.Args...)
	if *daemon {
		startArgs = append(startArgs, "-d")
	}
	return runStart(ctx, env, startArgs)
}

func runStatus(ctx context.Context, env Env, args []string) int {
	fs, pidFile := newFlags(env, "status", "[-json] [-cluster]",
		"Show the master and, for each worker, its pid, memory, connections, messages in and out,\n"+
			"send failures, restarts and uptime. A worker that does not answer within 1s shows as busy,\n"+
			"is named on stderr, and the command exits 1. With -cluster, one line per host of the\n"+
			"cluster instead, gathered over the bus: see docs/operations.md.")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	cluster := fs.Bool("cluster", false, "every host of the cluster: node, master pid, uptime, workers, connections, timer leader, bus routes")
	if code, ok := parseVerb(env, fs, pidFile, args); !ok {
		return code
	}
	if *cluster {
		return answer(env, "status -cluster", *pidFile, *asJSON,
			func(c *ctl.Client) (master.ClusterStatus, error) {
				var cs master.ClusterStatus
				err := c.Call(ctx, ctl.OpClusterStatus, nil, &cs)
				return cs, err
			},
			printClusterStatus, clusterUnanswered)
	}
	return answer(env, "status", *pidFile, *asJSON,
		func(c *ctl.Client) (master.Status, error) {
			var st master.Status
			err := c.Call(ctx, ctl.OpStatus, nil, &st)
			return st, err
		},
		printStatus, func(st master.Status) []master.Unanswered { return st.Unanswered })
}

func runConnections(ctx context.Context, env Env, args []string) int {
	return query(ctx, env, args, "connections",
		"List every connection of every worker: id, worker pid, remote address, bytes in and out, age.\n"+
			"A worker that does not answer is named on stderr, and the command exits 1.",
		func(c *ctl.Client) (master.Connections, error) {
			cs := master.Connections{Connections: []master.ConnectionInfo{}}
			var res master.ConnectionsResult
			err := c.CallStream(ctx, ctl.OpConnections, nil, func(raw json.RawMessage) error {
				var ci master.ConnectionInfo
				if err := json.Unmarshal(raw, &ci); err != nil {
					return err
				}
				cs.Connections = append(cs.Connections, ci)
				return nil
			}, &res)
			cs.Unanswered = res.Unanswered
			return cs, err
		},
		printConnections, func(cs master.Connections) []master.Unanswered { return cs.Unanswered })
}

// query runs a read-only verb: it asks the master with ask and prints the
// answer as a table, or as JSON with -json. When some worker did not
// answer, the answer is printed all the same, the workers that did not are
// named on stderr, and the exit code is 1: a partial answer is not a
// success (issue 10).
func query[T any](ctx context.Context, env Env, args []string, op, about string,
	ask func(*ctl.Client) (T, error), table func(io.Writer, T), unanswered func(T) []master.Unanswered) int {
	fs, pidFile := newFlags(env, op, "[-json]", about)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if code, ok := parseVerb(env, fs, pidFile, args); !ok {
		return code
	}
	return answer(env, op, *pidFile, *asJSON, ask, table, unanswered)
}

// answer is query once its flags are parsed.
func answer[T any](env Env, op, pidFile string, asJSON bool,
	ask func(*ctl.Client) (T, error), table func(io.Writer, T), unanswered func(T) []master.Unanswered) int {
	c, _, err := dial(pidFile)
	if err != nil {
		return fail(env, err)
	}
	defer c.Close()
	ans, err := ask(c)
	if err != nil {
		return fail(env, fmt.Errorf("master: %s: %w", op, err))
	}
	if asJSON {
		if code := printJSON(env, ans); code != ExitOK {
			return code
		}
	} else {
		table(env.Stdout, ans)
	}
	missing := unanswered(ans)
	for _, u := range missing {
		fmt.Fprintf(env.Stderr, "master: %s: %s\n", op, u)
	}
	if len(missing) > 0 {
		return ExitFailure
	}
	return ExitOK
}

func printJSON(env Env, v any) int {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fail(env, err)
	}
	return ExitOK
}
