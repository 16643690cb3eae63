package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/internal/master"
	"github.com/wsfleet/wsfleet/internal/sdnotify"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// startFlags are the flags of start (and what restart replays): every
// setting of config.Config, -d, and the program's own flags.
type startFlags struct {
	fs      *flag.FlagSet
	pidFile *string
	daemon  *bool
	check   *bool
	cfg     config.Config
	own     *flag.FlagSet // the program's own flags (Program.Flags)
	opts    master.Options
}

func newStartFlags(env Env) (*startFlags, error) {
	fs, pidFile := newFlags(env, "start", "[flags]",
		"Start the cluster: the master, its embedded NATS server (unless -nats) and -count workers\n"+
			"sharing -listen. In the foreground it logs to the terminal and Ctrl-C stops it; with -d\n"+
			"it returns once the cluster accepts connections, or prints why it could not and exits 1.")
	f := &startFlags{fs: fs, pidFile: pidFile, cfg: env.Program.Config}
	f.cfg.Flags(fs)
	f.daemon = fs.Bool("d", false, "daemonise: run in the background, logging to -log-file")
	f.check = fs.Bool("check", false, "check the configuration (flags, environment, -config file) and exit: 0 when it is good, 1 with every problem")
	own, err := env.Program.ownFlags()
	if err != nil {
		return nil, err
	}
	var clash error
	own.VisitAll(func(fl *flag.Flag) {
		if fs.Lookup(fl.Name) != nil {
			clash = fmt.Errorf("the program's flag -%s is also one of wsfleet's: rename it", fl.Name)
			return
		}
		fs.Var(fl.Value, fl.Name, fl.Usage)
	})
	f.own = own
	return f, clash
}

// validate checks the values and resolves what the master needs from them;
// it returns every problem, each naming its flag.
func (f *startFlags) validate() []string {
	f.cfg.PIDFile = *f.pidFile
	p := f.cfg.Check()
	o := &f.opts
	o.Config = f.cfg
	secrets, more := f.cfg.Bus.Secrets(f.cfg.NATS != "", f.cfg.ClusterListen != "")
	p = append(p, more...)
	o.NATSAuth, o.BackendPassword, o.RouteAuth = secrets.Client, secrets.BackendPassword, secrets.Route
	if lim, err := master.MemoryLimitFor(f.cfg.MemoryLimit, f.cfg.Count); err != nil {
		p = append(p, fmt.Sprintf("-memory-limit %q: %v", f.cfg.MemoryLimit, err))
	} else {
		o.WorkerMemoryLimit = lim
	}
	o.AppFlags = map[string]string{}
	f.own.VisitAll(func(fl *flag.Flag) { o.AppFlags[fl.Name] = fl.Value.String() })
	return p
}

func runStart(ctx context.Context, env Env, args []string) int {
	f, err := newStartFlags(env)
	if err != nil {
		return fail(env, err)
	}
	if code, ok := parse(env, f.fs, args); !ok {
		return code
	}
	layers, problems := f.layer()
	problems = append(problems, f.validate()...)
	// The application is made now, from the flags: a bad value of the
	// program's own flags is a usage error, before anything starts.
	a, err := env.Program.NewApp()
	if err != nil {
		problems = append(problems, strings.Split(err.Error(), "\n")...)
	}
	if *f.check {
		return checkOnly(env, layers, problems)
	}
	if code := usageErrors(env, "start", problems); code != 0 {
		return code
	}
	f.opts.App, f.opts.AppName = a, env.Program.appName()
	f.opts.StartArgs = replayArgs(f.fs)
	// The pid file's folder first: the daemon's log goes there by default,
	// and it must be ours before anything is opened in it (issue 11).
	if err := master.PrivateDir(filepath.Dir(f.cfg.PIDFile)); err != nil {
		return fail(env, err)
	}
	if *f.daemon && os.Getenv(daemonEnv) == "" {
		if os.Getenv(sdnotify.Env) != "" {
			// Type=notify wants the main process to report, and -d would
			// leave it (docs/operations.md).
			return usageErrors(env, "start", []string{"-d: run by systemd (" + sdnotify.Env + " is set): start in the foreground, without -d"})
		}
		return daemonize(env, f, args)
	}
	return serve(ctx, env, f)
}

// checkOnly reports the result of start -check: every problem and exit
// code 1, or what was read and 0.
func checkOnly(env Env, l config.Layers, problems []string) int {
	for _, p := range problems {
		fmt.Fprintf(env.Stderr, "%s start: %s\n", env.Program.Name, p)
	}
	if len(problems) > 0 {
		fmt.Fprintf(env.Stderr, "%s start -check: %d problem(s)\n", env.Program.Name, len(problems))
		return ExitFailure
	}
	from := "flags and defaults"
	if l.File != "" {
		from = "flags, environment, " + l.File + " and defaults"
	} else if len(l.Set) > 0 {
		from = "flags, environment and defaults"
	}
	fmt.Fprintf(env.Stdout, "configuration OK (%s)\n", from)
	return ExitOK
}

// serve runs the master in this process until it stops.
func serve(ctx context.Context, env Env, f *startFlags) int {
	ready := readyPipe() // nil in the foreground
	sink := &logSink{out: env.Stderr}
	if ready != nil { // a daemon: its standard output and error are -log-file
		sink.path = f.cfg.LogFile
		f.opts.ReopenLog = sink.reopen
	}
	log := newLogger(sink, f.cfg.LogFormat, f.cfg.LogLevel).With("master", os.Getpid())
	f.opts.LogOut = sink
	// Under systemd (Type=notify): READY=1, RELOADING=1, STOPPING=1.
	f.opts.Notify = sdnotify.New(os.Getenv(sdnotify.Env))
	m, err := master.New(f.opts, log)
	if err == nil {
		err = m.Start(ctx)
	}
	if err != nil {
		if ready != nil {
			log.Error("start failed", "err", err)
			fmt.Fprintf(ready, "error %s\n", err)
			ready.Close()
			return ExitFailure
		}
		return fail(env, err)
	}
	if ready != nil {
		fmt.Fprintf(ready, "ok %d\n", os.Getpid())
		ready.Close()
	}
	sigs := env.Signals()
	for {
		select {
		case <-m.Done():
			return ExitOK
		case sig := <-sigs:
			handleSignal(ctx, m, f.cfg.Grace, sig, log)
		}
	}
}

// handleSignal maps a signal to an action; stops and reloads run in the
// background so that a second signal is still heard.
func handleSignal(ctx context.Context, m *master.Master, grace time.Duration, sig os.Signal, log *slog.Logger) {
	log.Info("signal", "signal", sig.String())
	switch sig {
	case syscall.SIGTERM:
		go m.Stop(true, grace)
	case syscall.SIGINT:
		go m.Stop(false, grace)
	case syscall.SIGHUP:
		go func() {
			if err := m.ReloadTLS(ctx); err != nil {
				log.Error("SIGHUP", "err", err)
			}
		}()
	case syscall.SIGUSR1, syscall.SIGUSR2:
		go func() {
			if err := m.Reload(ctx, sig == syscall.SIGUSR2, grace); err != nil {
				log.Error("reload failed", "err", err)
			}
		}()
	}
}
