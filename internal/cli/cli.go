// Package cli is the command line of a wsfleet program, the stock
// `master` or a user's own: it parses each verb's flags, starts the master
// (in the foreground or as a daemon), talks to a running one over its
// control socket, and runs the program as one of its workers when its
// master starts it again. It never exits the process: Run returns the exit
// code for the program's main.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailure = 1 // it could not be done
	ExitUsage   = 2 // a bad flag or value
)

// Env is the process environment Run works in.
type Env struct {
	Stdout, Stderr io.Writer
	// Signals subscribes to the signals a running master handles (SIGTERM,
	// SIGINT, SIGUSR1, SIGUSR2, SIGHUP); only start calls it, so the other
	// commands keep the default behaviour (Ctrl-C ends them).
	Signals func() <-chan os.Signal
	// Program is the program being run: its name, defaults, own flags and
	// application.
	Program Program
}

type verb struct {
	name, summary string
	run           func(ctx context.Context, env Env, args []string) int
}

func verbs() []verb {
	return []verb{
		{"start", "start the cluster (-d: as a daemon)", runStart},
		{"stop", "stop the running cluster (-g: gracefully)", runStop},
		{"restart", "stop the running cluster, then start it with the same settings", runRestart},
		{"reload", "replace the workers one at a time (-g: gracefully)", runReload},
		{"status", "show the workers' status", runStatus},
		{"connections", "list every connection", runConnections},
		{"reopen-logs", "make a daemon reopen its -log-file (after logrotate)", runReopenLogs},
		{"version", "print this program's version and Go version", runVersion},
	}
}

// Run runs the command line args (without the program name) and returns the
// exit code.
func Run(ctx context.Context, env Env, args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout, env.Program.Name)
		if len(args) == 0 {
			return ExitUsage
		}
		return ExitOK
	}
	if args[0] == ctl.WorkerVerb { // the master starting a worker: not a verb for people
		ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
		defer stop()
		return runWorker(ctx, env, args[1:])
	}
	for _, v := range verbs() {
		if v.name == args[0] {
			return v.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "%s: unknown command %q\n", env.Program.Name, args[0])
	usage(env.Stderr, env.Program.Name)
	return ExitUsage
}

func usage(w io.Writer, name string) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\nwsfleet: a WebSocket application server; the master supervises worker processes\nthat share one port.\n\ncommands:\n", name)
	for _, v := range verbs() {
		fmt.Fprintf(w, "  %-12s %s\n", v.name, v.summary)
	}
	fmt.Fprintf(w, "\n'%s <command> -h' lists a command's flags. Exit codes: 0 done, 1 failed, 2 bad usage.\n", name)
}

// newFlags makes a verb's flag set with the flags every verb has.
func newFlags(env Env, name, synopsis, about string) (*flag.FlagSet, *string) {
	prog := env.Program.Name
	fs := flag.NewFlagSet(prog+" "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	def := env.Program.Config.PIDFile
	if def == "" {
		def = config.DefaultPIDFile()
	}
	pidFile := fs.String("pid-file", def, "the master's pid file; the control socket is beside it (.sock)")
	fs.String("config", "", "a TOML configuration file whose keys are start's flag names (default $"+config.EnvConfig+"; docs/configuration.md)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s %s\n\n%s\n\nflags:\n", prog, name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs, pidFile
}

// parse parses args; ok false means return code.
func parse(env Env, fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return ExitOK, false
		}
		return ExitUsage, false // flag printed the error and usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return ExitUsage, false
	}
	return 0, true
}

// usageErrors prints every problem with the flags and returns ExitUsage, or
// returns 0 when there is none.
func usageErrors(env Env, name string, problems []string) int {
	if len(problems) == 0 {
		return 0
	}
	for _, p := range problems {
		fmt.Fprintf(env.Stderr, "%s %s: %s\n", env.Program.Name, name, p)
	}
	fmt.Fprintf(env.Stderr, "run '%s %s -h' for the flags\n", env.Program.Name, name)
	return ExitUsage
}

func fail(env Env, err error) int {
	msg := err.Error()
	if !strings.HasPrefix(msg, "master") {
		msg = "master: " + msg
	}
	fmt.Fprintln(env.Stderr, msg)
	return ExitFailure
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
