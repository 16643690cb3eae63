package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// cliTimeout bounds every `master` command a test runs; a verb that hangs
// is killed and reported.
const cliTimeout = 60 * time.Second

// cli runs `master args...` to completion (at most cliTimeout) and returns
// what it printed and its exit code. Output goes to files rather than pipes so
// that a daemon which keeps an inherited descriptor open cannot hold the call.
func cli(t testing.TB, args ...string) (stdout, stderr string, exitCode int) {
	t.Helper()
	stdout, stderr, exitCode, err := runCLI(cliTimeout, args...)
	if err != nil {
		t.Fatalf("master %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout, stderr)
	}
	return stdout, stderr, exitCode
}

// runCLI is cli without the test, for goroutines: err reports a command that
// could not run or did not finish within timeout.
func runCLI(timeout time.Duration, args ...string) (stdout, stderr string, exitCode int, err error) {
	return runProgram(timeout, masterBin, args...)
}

// runProgram is runCLI for any program: the stock master or one built on
// the public package.
func runProgram(timeout time.Duration, bin string, args ...string) (stdout, stderr string, exitCode int, err error) {
	return runProgramEnv(timeout, nil, bin, args...)
}

// runProgramEnv is runProgram with the environment env (nil: this
// process's).
func runProgramEnv(timeout time.Duration, env []string, bin string, args ...string) (stdout, stderr string, exitCode int, err error) {
	dir, err := os.MkdirTemp("", "wsfleet-e2e-cli-")
	if err != nil {
		return "", "", -1, err
	}
	defer os.RemoveAll(dir)
	outF, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		return "", "", -1, err
	}
	defer outF.Close()
	errF, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return "", "", -1, err
	}
	defer errF.Close()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = outF, errF
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	runErr := cmd.Run()
	o, _ := os.ReadFile(outF.Name())
	e, _ := os.ReadFile(errF.Name())
	stdout, stderr = string(o), string(e)
	if ctx.Err() != nil {
		return stdout, stderr, -1, fmt.Errorf("did not finish within %s", timeout)
	}
	var exitErr *exec.ExitError
	switch {
	case runErr == nil:
		return stdout, stderr, 0, nil
	case errors.As(runErr, &exitErr) && exitErr.Exited():
		return stdout, stderr, exitErr.ExitCode(), nil
	default:
		return stdout, stderr, -1, runErr
	}
}

// statusJSON is `master status -json`.
type statusJSON struct {
	Master struct {
		PID           int     `json:"pid"`
		StartedAt     string  `json:"started_at"`
		UptimeSeconds float64 `json:"uptime_seconds"`
		Listen        string  `json:"listen"`
		App           string  `json:"app"`
		NATSURL       string  `json:"nats_url"`
		EmbeddedNATS  bool    `json:"embedded_nats"`
		ClusterName   string  `json:"cluster_name"`
		Count         int     `json:"count"`
		Node          string  `json:"node"`
	} `json:"master"`
	Workers []workerJSON `json:"workers"`
	Summary struct {
		Workers      int   `json:"workers"`
		Connections  int   `json:"connections"`
		MessagesIn   int64 `json:"messages_in"`
		MessagesOut  int64 `json:"messages_out"`
		SendFailures int64 `json:"send_failures"`
		RSSBytes     int64 `json:"rss_bytes"`
	} `json:"summary"`
}

// workerJSON is one row of statusJSON.Workers.
type workerJSON struct {
	Slot          int     `json:"slot"`
	PID           int     `json:"pid"`
	State         string  `json:"state"`
	RSSBytes      int64   `json:"rss_bytes"`
	Connections   int     `json:"connections"`
	MessagesIn    int64   `json:"messages_in"`
	MessagesOut   int64   `json:"messages_out"`
	SendFailures  int64   `json:"send_failures"`
	Restarts      int     `json:"restarts"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	Cores         int     `json:"cores"`
	MemoryLimit   int64   `json:"memory_limit"`
	Procs         int     `json:"procs"`
}

// connectionsJSON is `master connections -json`.
type connectionsJSON struct {
	Connections []connJSON `json:"connections"`
}

// connJSON is one connection as the cluster sees it.
type connJSON struct {
	ID         string  `json:"id"`
	WorkerPID  int     `json:"worker_pid"`
	WorkerSlot int     `json:"worker_slot"`
	Remote     string  `json:"remote"`
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	AgeSeconds float64 `json:"age_seconds"`
	User       string  `json:"user"`
}

// queryStatus runs `master status -json` against pidFile. It returns an
// error (not a test failure) when the command fails, so it can be polled.
func queryStatus(pidFile string) (*statusJSON, error) {
	out, errOut, code, err := runCLI(cliTimeout, "status", "-json", "-pid-file", pidFile)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("status exited %d: %s", code, strings.TrimSpace(errOut))
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return nil, fmt.Errorf("status -json: %w in %q", err, out)
	}
	if st.Master.EmbeddedNATS {
		// Connect as a backend does (buscreds_test.go).
		st.Master.NATSURL = withBackendCreds(st.Master.NATSURL)
	}
	notePID(st.Master.PID)
	for _, w := range st.Workers {
		notePID(w.PID)
	}
	return &st, nil
}

// queryConnections runs `master connections -json` against pidFile.
func queryConnections(pidFile string) (*connectionsJSON, error) {
	out, errOut, code, err := runCLI(cliTimeout, "connections", "-json", "-pid-file", pidFile)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("connections exited %d: %s", code, strings.TrimSpace(errOut))
	}
	var cs connectionsJSON
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		return nil, fmt.Errorf("connections -json: %w in %q", err, out)
	}
	return &cs, nil
}

// allRunning returns nil when st lists count workers, all running, with
// distinct slots 0..count-1.
func allRunning(st *statusJSON, count int) error {
	if len(st.Workers) != count {
		return fmt.Errorf("%d workers listed, want %d: %+v", len(st.Workers), count, st.Workers)
	}
	slots := make(map[int]bool)
	for _, w := range st.Workers {
		if w.State != "running" {
			return fmt.Errorf("worker slot %d pid %d is %q", w.Slot, w.PID, w.State)
		}
		if w.PID <= 0 {
			return fmt.Errorf("worker slot %d has pid %d", w.Slot, w.PID)
		}
		slots[w.Slot] = true
	}
	for s := 0; s < count; s++ {
		if !slots[s] {
			return fmt.Errorf("no worker in slot %d: %+v", s, st.Workers)
		}
	}
	return nil
}

// mustContain fails unless s contains every one of subs.
func mustContain(t testing.TB, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s does not contain %q:\n%s", what, sub, s)
		}
	}
}

// cliResult is the outcome of a `master` command run by goCLI.
type cliResult struct {
	stdout, stderr string
	code           int
	err            error
	at             time.Time // when the command returned
}

// goCLI runs `master args...` in a goroutine and delivers its result, for
// verbs such as `stop -g` that block while the test acts.
func goCLI(args ...string) <-chan cliResult {
	ch := make(chan cliResult, 1)
	go func() {
		var r cliResult
		r.stdout, r.stderr, r.code, r.err = runCLI(cliTimeout, args...)
		r.at = time.Now()
		ch <- r
	}()
	return ch
}

// check fails the test unless r is a command that ran and exited 0.
func (r cliResult) check(t testing.TB, what string) {
	t.Helper()
	if r.err != nil || r.code != 0 {
		t.Fatalf("%s exited %d (%v)\nstdout:\n%s\nstderr:\n%s", what, r.code, r.err, r.stdout, r.stderr)
	}
}
