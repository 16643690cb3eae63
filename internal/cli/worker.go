package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/internal/certs"
	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/internal/memtrim"
	"github.com/wsfleet/wsfleet/internal/site"
	"github.com/wsfleet/wsfleet/internal/webhook"
	"github.com/wsfleet/wsfleet/internal/worker"
	"github.com/wsfleet/wsfleet/pkg/auth"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/history"
	"github.com/wsfleet/wsfleet/pkg/reuse"
)

// gcPercent is a worker's GOGC when the environment sets none. Its heap is
// mostly long-lived connection state, so Go's default of 100 % let a
// worker's memory reach twice that state after a burst of connections. At
// 50k idle connections, 50 took the cost per connection (PSS, all
// processes) from about 1,070 to about 900 bytes, with no change in echo
// round trips per CPU-second (docs/benchmarks.md).
const gcPercent = 50

// runWorker is a worker process: what the master starts as
// "<program> worker -slot N", with its control connection, listening
// socket and setup on inherited file descriptors (ctl.ControlFD, ListenFD,
// SetupFD). It is not meant to be run by hand.
func runWorker(ctx context.Context, env Env, args []string) int {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	// The worker's output is a pipe its master reads: when the master
	// died, a log line must fail (EPIPE), not kill the worker before it
	// closes its clients with 1001.
	signal.Ignore(syscall.SIGPIPE)
	fs := flag.NewFlagSet(env.Program.Name+" worker", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	slot := fs.Int("slot", 0, "the worker's index in the master's table (for ps; the setup says it too)")
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	f := os.NewFile(ctl.SetupFD, "setup")
	setup, err := ctl.ReadSetup(f)
	f.Close()
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s worker %d: %v (a worker is started by its master, not by hand)\n", env.Program.Name, *slot, err)
		return ExitUsage
	}
	cfg := setup.Config
	log := newLogger(env.Stderr, cfg.LogFormat, cfg.LogLevel).With("worker", setup.Slot, "pid", os.Getpid())
	setMemoryLimit(setup.MemoryLimit, log)
	setProcs(setup.Procs, log)
	opts, err := workerOptions(env, setup, log)
	if err != nil {
		log.Error("worker: " + err.Error())
		return ExitUsage
	}
	if opts.Control, err = net.FileConn(os.NewFile(ctl.ControlFD, "control")); err != nil {
		log.Error("worker: control connection", "err", err)
		return ExitFailure
	}
	if opts.Listener, err = reuse.FromFile(os.NewFile(ctl.ListenFD, "listener")); err != nil {
		log.Error("worker: listening socket", "err", err)
		return ExitFailure
	}
	// Give memory back after a spike (issue 10); it stops with the worker.
	trimCtx, stopTrim := context.WithCancel(ctx)
	var trim sync.WaitGroup
	trim.Go(func() { memtrim.Run(trimCtx, memtrim.Options{Log: log}) })
	defer func() { stopTrim(); trim.Wait() }()
	if err := worker.Run(ctx, opts); err != nil {
		log.Error("worker failed", "err", err)
		return ExitFailure
	}
	return ExitOK
}

// workerOptions builds the worker from its setup: the program's own flags
// and application, the certificate, the token keys and the engine's
// options. This is where a setting of config.Config meets the component
// that uses it.
func workerOptions(env Env, s ctl.Setup, log *slog.Logger) (worker.Options, error) {
	cfg := s.Config
	o := worker.Options{
		Slot: s.Slot, Node: cfg.Node, Log: log,
		Bus: bus.Options{URL: s.NATSURL, Prefix: cfg.ClusterName, Auth: s.NATSAuth, Logger: log,
			Name: fmt.Sprintf("worker %d pid %d", s.Slot, os.Getpid())},
		Events: cfg.Events, EventHeaders: cfg.EventHeaders, MaxRooms: cfg.MaxRooms,
		HistoryReplicas: cfg.HistoryReplicas, HistoryMaxBytes: cfg.HistoryMaxBytes,
		TokenExpireClose: cfg.JWTExpireClose,
		Gateway: gateway.Options{
			MaxMessage: cfg.MaxMessage, SendBuffer: int(cfg.SendBuffer),
			TrustedProxies: cfg.TrustedProxies, AllowOrigins: cfg.AllowOrigins,
			Subprotocols: cfg.Subprotocols, RequireSubprotocol: cfg.RequireSubprotocol, Deflate: cfg.Deflate,
			Cores: s.Cores, PingInterval: orOff(cfg.PingInterval), IdleTimeout: orOff(cfg.IdleTimeout),
			TCPKeepAlive: orOff(cfg.TCPKeepAlive),
			MaxConns:     s.MaxConns, MaxConnsPerIP: s.MaxConnsPerIP, MaxRequestHead: int(cfg.MaxRequestHead),
		},
	}
	var err error
	if o.History, err = history.ParseRules(cfg.History); err != nil {
		return o, fmt.Errorf("-history: %w", err)
	}
	if cfg.DemoPage && env.Program.Assets != nil {
		o.Gateway.HTTP = site.Handler(env.Program.Assets)
	}
	if err := env.Program.OwnFlags(s.AppFlags); err != nil {
		return o, fmt.Errorf("the program's flags: %w", err)
	}
	if o.App, err = env.Program.NewApp(); err != nil {
		return o, fmt.Errorf("the application: %w", err)
	}
	if cfg.TLSCert != "" {
		if o.Certs, err = certs.Load(cfg.TLSCert, cfg.TLSKey); err != nil {
			return o, fmt.Errorf("-tls-cert/-tls-key: %w", err)
		}
		if k := s.TicketKeys; len(k.Keys) > 0 { // the master's, shared by its workers
			if err := o.Certs.SetTicketKeys(k.Gen, k.Keys); err != nil {
				return o, fmt.Errorf("the master's session ticket keys: %w", err)
			}
		}
	}
	if o.Tokens, err = loadVerifier(cfg.JWTSecretFile, cfg.JWTKeyFile); err != nil {
		return o, fmt.Errorf("-jwt-secret-file/-jwt-key-file: %w", err)
	}
	if cfg.Webhook != "" {
		o.Webhook = webhook.Options{URL: cfg.Webhook, Timeout: cfg.WebhookTimeout, Concurrency: cfg.WebhookConcurrency}
		if cfg.WebhookSecretFile != "" {
			if o.Webhook.Secret, err = auth.ReadSecretFile(cfg.WebhookSecretFile); err != nil {
				return o, fmt.Errorf("-webhook-secret-file: %w", err)
			}
		}
	}
	return o, nil
}

// loadVerifier reads the connection tokens' keys; nil when neither is set.
func loadVerifier(secretFile, keyFile string) (*auth.Verifier, error) {
	if secretFile == "" && keyFile == "" {
		return nil, nil
	}
	var o auth.Options
	var err error
	if secretFile != "" {
		if o.Secret, err = auth.ReadSecretFile(secretFile); err != nil {
			return nil, err
		}
	}
	if keyFile != "" {
		if o.PublicKey, err = auth.ReadPublicKeyFile(keyFile); err != nil {
			return nil, err
		}
	}
	return auth.New(o)
}

// orOff maps the config's 0 ("never") to the gateway's negative
// "disabled"; the gateway reads 0 as its default.
func orOff(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// setMemoryLimit applies the setup's memory limit as the runtime's soft
// memory limit, unless the environment's GOMEMLIMIT (which the runtime
// already applied) or the setup says none.
func setMemoryLimit(limit int64, log *slog.Logger) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		log.Debug("memory limit from the environment", "GOMEMLIMIT", env)
		return
	}
	if limit > 0 {
		debug.SetMemoryLimit(limit)
		log.Debug("memory limit", "bytes", limit)
	}
}

// setProcs sizes the Go scheduler to -worker-cores: at most cores Ps
// (never more than the runtime's own default, the CPUs this process may
// use; 0 leaves that default), unless the environment's GOMAXPROCS (which
// the runtime already applied) says otherwise. Fewer Ps than the CPUs
// spare a worker idle Ps spinning for work, which a connect storm on
// -count 4 pays once per process (docs/architecture.md, issue 16); the
// master asks for the cores divided among the workers unless -worker-cores
// is given, so that the workers together run one P per core, as
// Workerman runs one single-threaded process per core.
func setProcs(cores int, log *slog.Logger) {
	if env := os.Getenv("GOMAXPROCS"); env != "" {
		log.Debug("GOMAXPROCS from the environment", "GOMAXPROCS", env)
		return
	}
	if cores > 0 && cores < runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(cores)
	}
	log.Debug("GOMAXPROCS", "procs", runtime.GOMAXPROCS(0))
}
