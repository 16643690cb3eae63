package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/internal/master"
)

// logSink is a running master's log output: its own records and its
// workers' copied lines, one Write each, in turn. A daemon's standard
// output and error are its -log-file (daemonize opened it); reopen points
// them at a new file of the same name, after logrotate moved the old one,
// so that the master's records, its workers' lines and anything the Go
// runtime prints go there from then on.
type logSink struct {
	mu   sync.Mutex
	out  io.Writer
	path string // the daemon's -log-file; "" in the foreground
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Write(p)
}

// reopen opens path again (a fresh file if it was moved away) and makes it
// this process's standard output and error.
func (s *logSink) reopen() (string, error) {
	f, err := master.OpenLog(s.path) // not through a link, only a file of ours (issue 11)
	if err != nil {
		return s.path, err
	}
	defer f.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fd := range []int{1, 2} {
		if err := unix.Dup3(int(f.Fd()), fd, 0); err != nil {
			return s.path, fmt.Errorf("dup onto fd %d: %w", fd, err)
		}
	}
	return s.path, nil
}

// newLogger is the master's or a worker's logger in -log-format on out.
func newLogger(out io.Writer, format string, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(out, o))
	}
	return slog.New(slog.NewTextHandler(out, o))
}

func runReopenLogs(ctx context.Context, env Env, args []string) int {
	fs, pidFile := newFlags(env, "reopen-logs", "",
		"Make a daemon master reopen its -log-file, after logrotate (or anyone) moved it away: the\n"+
			"master's and its workers' lines go to a new file at the same path from then on.")
	if code, ok := parseVerb(env, fs, pidFile, args); !ok {
		return code
	}
	c, _, err := dial(*pidFile)
	if err != nil {
		return fail(env, err)
	}
	defer c.Close()
	var path string
	if err := c.Call(ctx, ctl.OpReopenLogs, nil, &path); err != nil {
		return fail(env, fmt.Errorf("master: reopen-logs: %w", err))
	}
	fmt.Fprintf(env.Stdout, "wsfleet reopened %s\n", path)
	return ExitOK
}
