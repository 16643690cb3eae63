package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/internal/certs"
	"github.com/wsfleet/wsfleet/internal/flagx"
	"github.com/wsfleet/wsfleet/internal/master"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/auth"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// startFlags are the flags of start (and what restart replays).
type startFlags struct {
	fs        *flag.FlagSet
	pidFile   *string
	daemon    *bool
	logFile   *string
	logLevel  *slog.Level
	opts      master.Options
	maxMsg    *flagx.SizeValue
	proxies   *[]netip.Prefix
	origins   *[]string
	routes    *[]string
	protocols *[]string
	sendBuf   *flagx.SizeValue
	workerBin *string
	evHeaders *[]string
	maxHead   *flagx.SizeValue
	creds     credFlags // issue 11 (creds.go)
	memLimit  *string   // issue 10: "auto", "0" or a size
}

func newStartFlags(env Env) *startFlags {
	fs, pidFile := newFlags(env, "start", "[flags]",
		"Start the cluster: the master, its embedded NATS server (unless -nats) and -count workers\n"+
			"sharing -listen. In the foreground it logs to the terminal and Ctrl-C stops it; with -d\n"+
			"it returns once the cluster accepts connections, or prints why it could not and exits 1.")
	f := &startFlags{fs: fs, pidFile: pidFile}
	o := &f.opts
	fs.IntVar(&o.Count, "count", 4, "worker processes")
	fs.StringVar(&o.Listen, "listen", ":8080", "the WebSocket address every worker accepts on (SO_REUSEPORT)")
	fs.StringVar(&o.App, "app", "push", "the application: "+strings.Join(app.Names(), " or "))
	fs.DurationVar(&o.PushInterval, "push-interval", 10*time.Second, "how often the push app sends 你好! to every connection")
	fs.StringVar(&o.NATS, "nats", "", "use this NATS server (comma-separated URLs for a cluster) instead of the embedded one")
	fs.StringVar(&o.NATSListen, "nats-listen", bus.DefaultEmbeddedListen, "where the embedded NATS server listens (port 0: any free port)")
	fs.StringVar(&o.ClusterListen, "cluster-listen", "", "where the embedded NATS accepts routes from other hosts (host:port); enables multi-host")
	f.routes = flagx.List(fs, "routes", "other hosts' -cluster-listen addresses as nats://host:port, comma-separated (may include this host)")
	fs.StringVar(&o.ClusterName, "cluster-name", bus.DefaultPrefix, "the prefix of every NATS subject")
	fs.StringVar(&o.Node, "node", defaultNode(), "this host's name in connection ids")
	fs.DurationVar(&o.Grace, "grace", 30*time.Second, "how long graceful stops and reloads wait for clients before closing them")
	f.maxMsg = flagx.Size(fs, "max-message", 10<<20, "largest message a client may send; larger ones close with 1009")
	f.sendBuf = flagx.Size(fs, "send-buffer", 1<<20, "pending output per connection behind the frame being written; a client further behind is closed with 1008")
	f.daemon = fs.Bool("d", false, "daemonise: run in the background, logging to -log-file")
	f.logFile = fs.String("log-file", "", "where a daemon logs (default: master.log beside the pid file)")
	f.logLevel = flagx.Level(fs, "log-level", slog.LevelInfo, "debug, info, warn or error")
	f.workerBin = fs.String("worker-bin", "", "the worker executable (default: worker beside master)")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "serve wss:// with this certificate (PEM; with -tls-key). SIGHUP or reload rereads it")
	fs.StringVar(&o.TLSKey, "tls-key", "", "the private key of -tls-cert (PEM)")
	f.proxies = flagx.Prefixes(fs, "trusted-proxy", "proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For (right-most untrusted entry) or X-Real-IP names the client")
	f.origins = flagx.List(fs, "allow-origin", "allowed Origin values, comma-separated (default: any, and none)")
	f.protocols = flagx.List(fs, "subprotocols", "subprotocols the server speaks, in order of preference, comma-separated")
	fs.BoolVar(&o.RequireSubprotocol, "require-subprotocol", false, "refuse upgrades that offer none of -subprotocols")
	fs.BoolVar(&o.Deflate, "deflate", false, "negotiate permessage-deflate with clients that offer it")
	fs.IntVar(&o.WorkerCores, "worker-cores", 0, "cores each worker may use at once, for its epoll pollers and broadcast writers (0: the cores divided among the workers)")
	fs.DurationVar(&o.PingInterval, "ping-interval", 25*time.Second, "how often to ping every connection, which clients answer on their own (0: never)")
	fs.DurationVar(&o.IdleTimeout, "idle-timeout", 60*time.Second, "close a connection that sent nothing, not even a pong, for this long (0: never)")
	fs.BoolVar(&o.Events, "events", false, "publish connection events on NATS for backends in any language (docs/backend.md)")
	fs.BoolVar(&o.DemoPage, "demo-page", true, "answer plain HTTP GETs on the WebSocket port with the demo page")
	// Issue 10, hub bounds.
	fs.IntVar(&o.MaxRooms, "max-rooms", hub.DefaultMaxRooms, "the most rooms one connection may be in at once; a join beyond it is refused with an error")

	fs.StringVar(&o.JWTSecretFile, "jwt-secret-file", "", "require a connection token (JWT: the token query parameter or Authorization: Bearer) signed with HS256/384/512 and the secret in this file (trimmed; at least 32 bytes)")
	fs.StringVar(&o.JWTKeyFile, "jwt-key-file", "", "require a connection token signed with the private half of this PEM public key (RSA: RS256/384/512, ECDSA: ES256/384/512, Ed25519: EdDSA)")
	fs.BoolVar(&o.JWTExpireClose, "jwt-expire-close", false, "close a connection with 4001 \"token expired\" when its token's exp passes, unless the app refreshed it")
	f.evHeaders = flagx.List(fs, "events-headers", "request headers an -events open event carries, comma-separated (default none; Cookie and Authorization only if named)")
	fs.IntVar(&o.MaxConns, "max-conns", 0, "most connections on this host, each worker taking its share; over it, HTTP 503 (0: no limit)")
	fs.IntVar(&o.MaxConnsPerIP, "max-conns-per-ip", 0, "most connections from one client address (after -trusted-proxy), each worker taking its share; over it, HTTP 429 (0: no limit)")
	f.maxHead = flagx.Size(fs, "max-request-head", 32<<10, "longest HTTP request head (request line and headers); over it, HTTP 431")
	f.creds = addCredFlags(fs, o) // issue 11: the bus's credentials
	// Issue 10: memory and the echo app.
	f.memLimit = fs.String("memory-limit", "auto", "each worker's Go memory limit (GOMEMLIMIT), a size or 0 for none; auto: 3/4 of the cgroup's memory.max shared among the workers, none without one. The environment's GOMEMLIMIT wins")
	fs.StringVar(&o.EchoPrefix, "echo-prefix", app.EchoPrefix, "what the echo app puts before each answer ('' for none, as conformance suites expect)")
	return f
}

// validate checks the values and fills in derived ones; it returns every
// problem, each naming its flag.
func (f *startFlags) validate() []string {
	var p []string
	o := &f.opts
	if o.Count < 1 {
		p = append(p, fmt.Sprintf("-count must be at least 1 (got %d)", o.Count))
	}
	if _, _, err := net.SplitHostPort(o.Listen); err != nil {
		p = append(p, fmt.Sprintf("-listen %q: want host:port, e.g. :8080", o.Listen))
	}
	if _, _, err := net.SplitHostPort(o.NATSListen); o.NATS == "" && err != nil {
		p = append(p, fmt.Sprintf("-nats-listen %q: want host:port, e.g. 127.0.0.1:4222", o.NATSListen))
	}
	if _, err := app.New(o.App, app.Config{}); err != nil {
		p = append(p, fmt.Sprintf("-app %q: no such application (have %s)", o.App, strings.Join(app.Names(), ", ")))
	}
	if o.PushInterval <= 0 {
		p = append(p, fmt.Sprintf("-push-interval must be positive (got %s)", o.PushInterval))
	}
	if o.WorkerCores < 0 {
		p = append(p, fmt.Sprintf("-worker-cores must not be negative (got %d)", o.WorkerCores))
	}
	if o.PingInterval < 0 {
		p = append(p, fmt.Sprintf("-ping-interval must not be negative (got %s)", o.PingInterval))
	}
	if o.IdleTimeout < 0 {
		p = append(p, fmt.Sprintf("-idle-timeout must not be negative (got %s)", o.IdleTimeout))
	}
	if o.PingInterval > 0 && o.IdleTimeout > 0 && o.IdleTimeout <= o.PingInterval {
		p = append(p, fmt.Sprintf("-idle-timeout (%s) must be longer than -ping-interval (%s), or every client that only answers pings is closed",
			o.IdleTimeout, o.PingInterval))
	}
	if o.MaxConns < 0 {
		p = append(p, fmt.Sprintf("-max-conns must not be negative (got %d)", o.MaxConns))
	}
	if o.MaxConnsPerIP < 0 {
		p = append(p, fmt.Sprintf("-max-conns-per-ip must not be negative (got %d)", o.MaxConnsPerIP))
	}
	if o.MaxRequestHead = int64(*f.maxHead); o.MaxRequestHead < 1<<10 || o.MaxRequestHead > 1<<20 {
		p = append(p, fmt.Sprintf("-max-request-head must be between 1KiB and 1MiB (got %d bytes)", o.MaxRequestHead))
	}
	if o.MaxRooms < 1 {
		p = append(p, fmt.Sprintf("-max-rooms must be at least 1 (got %d)", o.MaxRooms))
	}
	if o.Grace <= 0 {
		p = append(p, fmt.Sprintf("-grace must be positive (got %s)", o.Grace))
	}
	if err := bus.ValidToken(o.ClusterName); err != nil {
		p = append(p, fmt.Sprintf("-cluster-name %q: letters, digits, '-' and '_' only", o.ClusterName))
	}
	if err := bus.ValidToken(o.Node); err != nil {
		p = append(p, fmt.Sprintf("-node %q: letters, digits, '-' and '_' only", o.Node))
	}
	o.MaxMessage, o.SendBuffer = int64(*f.maxMsg), int64(*f.sendBuf)
	o.AllowOrigins, o.Subprotocols, o.Routes = *f.origins, *f.protocols, *f.routes
	if o.ClusterListen != "" {
		if _, _, err := net.SplitHostPort(o.ClusterListen); err != nil {
			p = append(p, fmt.Sprintf("-cluster-listen %q: want host:port, e.g. 10.0.0.1:6222", o.ClusterListen))
		}
		if o.NATS != "" {
			p = append(p, "-cluster-listen clusters the embedded NATS; with -nats, cluster that server instead")
		}
	}
	if len(o.Routes) > 0 && o.ClusterListen == "" {
		p = append(p, "-routes needs -cluster-listen")
	}
	for _, r := range o.Routes {
		if !strings.HasPrefix(r, "nats://") {
			p = append(p, fmt.Sprintf("-routes %q: want nats://host:port", r))
		}
	}
	for _, p := range *f.proxies {
		o.TrustedProxies = append(o.TrustedProxies, p.String())
	}
	switch {
	case (o.TLSCert == "") != (o.TLSKey == ""):
		p = append(p, "-tls-cert and -tls-key go together")
	case o.TLSCert != "":
		if _, err := certs.Load(o.TLSCert, o.TLSKey); err != nil {
			p = append(p, fmt.Sprintf("-tls-cert/-tls-key: %v", err))
		}
		o.TLSCert, o.TLSKey = absPath(o.TLSCert), absPath(o.TLSKey)
	}
	if o.RequireSubprotocol && len(o.Subprotocols) == 0 {
		p = append(p, "-require-subprotocol needs -subprotocols")
	}
	o.PIDFile = absPath(*f.pidFile)
	o.LogLevel = strings.ToLower(f.logLevel.String())
	o.WorkerBin = *f.workerBin
	if o.WorkerBin == "" {
		exe, err := os.Executable()
		if err != nil {
			p = append(p, "-worker-bin: cannot find this executable: "+err.Error())
		}
		o.WorkerBin = filepath.Join(filepath.Dir(exe), "worker")
	}
	if st, err := os.Stat(o.WorkerBin); err != nil || st.IsDir() {
		p = append(p, fmt.Sprintf("-worker-bin %s: not an executable file", o.WorkerBin))
	}
	p = append(p, f.validateAuth()...)
	p = append(p, f.creds.validate(o)...) // issue 11
	if lim, err := master.MemoryLimitFor(*f.memLimit, o.Count); err != nil {
		p = append(p, fmt.Sprintf("-memory-limit %q: %v", *f.memLimit, err))
	} else {
		o.MemoryLimit = lim
	}
	if *f.logFile == "" {
		*f.logFile = filepath.Join(filepath.Dir(o.PIDFile), "master.log")
	}
	return p
}

// validateAuth checks the client authentication flags (issue 11): the
// key files must be readable and hold a usable key now, not only when the
// first worker starts.
func (f *startFlags) validateAuth() []string {
	var p []string
	o := &f.opts
	if o.JWTSecretFile != "" {
		if _, err := auth.ReadSecretFile(o.JWTSecretFile); err != nil {
			p = append(p, fmt.Sprintf("-jwt-secret-file: %v", err))
		}
		o.JWTSecretFile = absPath(o.JWTSecretFile)
	}
	if o.JWTKeyFile != "" {
		if _, err := auth.ReadPublicKeyFile(o.JWTKeyFile); err != nil {
			p = append(p, fmt.Sprintf("-jwt-key-file: %v", err))
		}
		o.JWTKeyFile = absPath(o.JWTKeyFile)
	}
	if o.JWTExpireClose && o.JWTSecretFile == "" && o.JWTKeyFile == "" {
		p = append(p, "-jwt-expire-close needs -jwt-secret-file or -jwt-key-file")
	}
	o.EventHeaders = *f.evHeaders
	if len(o.EventHeaders) > 0 && !o.Events {
		p = append(p, "-events-headers needs -events")
	}
	for _, h := range o.EventHeaders {
		if h == "" || strings.ContainsAny(h, " :\t\r\n") {
			p = append(p, fmt.Sprintf("-events-headers %q: not a header name", h))
		}
	}
	return p
}

// defaultNode is the short host name, or "node" when it has none usable.
func defaultNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	h, _, _ = strings.Cut(h, ".")
	h = strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9') {
			return r
		}
		return '_'
	}, h)
	return h
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// startArgs drops -d from args, for replaying them on restart.
func startArgs(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		switch a {
		case "-d", "--d", "-d=true", "--d=true":
			continue
		}
		out = append(out, a)
	}
	return out
}

func runStart(ctx context.Context, env Env, args []string) int {
	f := newStartFlags(env)
	if code, ok := parse(env, f.fs, args); !ok {
		return code
	}
	if code := usageErrors(env, "start", f.validate()); code != 0 {
		return code
	}
	f.opts.StartArgs = startArgs(args)
	// The pid file's folder first: the daemon's log goes there by default,
	// and it must be ours before anything is opened in it (issue 11).
	if err := master.PrivateDir(filepath.Dir(f.opts.PIDFile)); err != nil {
		return fail(env, err)
	}
	if *f.daemon && os.Getenv(daemonEnv) == "" {
		return daemonize(env, f, args)
	}
	return serve(ctx, env, f)
}

// serve runs the master in this process until it stops.
func serve(ctx context.Context, env Env, f *startFlags) int {
	ready := readyPipe() // nil in the foreground
	logOut := env.Stderr
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: *f.logLevel})).
		With("master", os.Getpid())
	f.opts.LogOut = logOut
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
			handleSignal(ctx, m, f.opts.Grace, sig, log)
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
