// Command worker serves WebSocket connections for a wsfleet master.
//
// The master starts it; it is not meant to be run by hand. It inherits its
// control connection and its SO_REUSEPORT listening socket as file
// descriptors (-ctl-fd, -listen-fd) and exits when the master asks it to or
// goes away.
//
// Unless the environment sets GOGC, a worker collects garbage at 50 %
// heap growth, not Go's default 100 %: its heap is mostly long-lived
// connection state, so the default let a worker's memory reach twice
// that state after a burst of connections. At 50k idle connections this
// took the cost per connection (PSS, all processes) from about 1,070 to
// about 900 bytes, with no change in echo round trips per CPU-second
// (docs/benchmarks.md).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet"
	"github.com/wsfleet/wsfleet/internal/certs"
	"github.com/wsfleet/wsfleet/internal/flagx"
	"github.com/wsfleet/wsfleet/internal/memtrim"
	"github.com/wsfleet/wsfleet/internal/site"
	"github.com/wsfleet/wsfleet/internal/worker"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/auth"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
	"github.com/wsfleet/wsfleet/pkg/reuse"
)

// gcPercent is the worker's GOGC when the environment sets none.
const gcPercent = 50

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	var (
		slot         = fs.Int("slot", 0, "the worker's index in the master's table")
		node         = fs.String("node", "", "this host's name in connection ids (required)")
		ctlFD        = fs.Int("ctl-fd", 3, "inherited control connection to the master")
		listenFD     = fs.Int("listen-fd", 4, "inherited listening socket")
		natsURL      = fs.String("nats", "", "NATS server URL (required)")
		cluster      = fs.String("cluster-name", bus.DefaultPrefix, "prefix of every NATS subject")
		appName      = fs.String("app", "push", "application: "+fmt.Sprint(app.Names()))
		pushInterval = fs.Duration("push-interval", 10*time.Second, "push app interval (used by the master's timer)")
		maxMessage   = flagx.Size(fs, "max-message", 10<<20, "largest message a client may send")
		sendBuffer   = flagx.Size(fs, "send-buffer", 1<<20, "pending output per connection")
		logLevel     = flagx.Level(fs, "log-level", slog.LevelInfo, "debug, info, warn or error")
		tlsCert      = fs.String("tls-cert", "", "serve wss:// with this certificate (PEM)")
		tlsKey       = fs.String("tls-key", "", "the certificate's key (PEM)")
		proxies      = flagx.Prefixes(fs, "trusted-proxy", "proxies whose X-Forwarded-For / X-Real-IP name the client (comma-separated IPs or CIDRs)")
		origins      = flagx.List(fs, "allow-origin", "allowed Origin values (comma-separated; empty: any)")
		protocols    = flagx.List(fs, "subprotocols", "subprotocols, in order of preference (comma-separated)")
		requireProto = fs.Bool("require-subprotocol", false, "refuse upgrades that offer none of -subprotocols")
		deflate      = fs.Bool("deflate", false, "negotiate permessage-deflate")
		cores        = fs.Int("cores", 0, "the cores this worker may use at once: its pollers and broadcast writers (0: GOMAXPROCS)")
		demoPage     = fs.Bool("demo-page", true, "serve the demo page to plain HTTP GETs on the WebSocket port")
		events       = fs.Bool("events", false, "publish connection events for backends (docs/backend.md)")
		pingInterval = fs.Duration("ping-interval", 25*time.Second, "how often to ping every connection (0: never)")
		idleTimeout  = fs.Duration("idle-timeout", 60*time.Second, "close a connection silent for this long (0: never)")
		// Issue 10, hub bounds.
		maxRooms = fs.Int("max-rooms", hub.DefaultMaxRooms, "the most rooms one connection may be in")

		jwtSecret      = fs.String("jwt-secret-file", "", "HMAC secret of connection tokens (HS256/384/512)")
		jwtKey         = fs.String("jwt-key-file", "", "PEM public key of connection tokens (RS256/384/512, ES256/384/512, EdDSA)")
		jwtExpireClose = fs.Bool("jwt-expire-close", false, "close a connection with 4001 when its token expires")
		eventHeaders   = flagx.List(fs, "events-headers", "request headers an open event carries (comma-separated; none by default)")
		maxConns       = fs.Int("max-conns", 0, "most connections this worker holds; over it, 503 (0: no limit)")
		maxConnsIP     = fs.Int("max-conns-per-ip", 0, "most connections one client address holds on this worker; over it, 429 (0: no limit)")
		maxReqHead     = flagx.Size(fs, "max-request-head", 32<<10, "longest HTTP request head; over it, 431")
		// Issue 11: the bus credentials come on an inherited pipe, never
		// in argv (see internal/master's authPipe).
		authFD = fs.Int("nats-auth-fd", -1, "inherited pipe holding the NATS credentials as JSON (-1: none)")
		// issue 10: memory and the echo app
		memoryLimit = fs.Int64("memory-limit", 0, "the Go runtime's soft memory limit in bytes (GOMEMLIMIT; 0: none; the environment's GOMEMLIMIT wins)")
		echoPrefix  = fs.String("echo-prefix", app.EchoPrefix, "what the echo app puts before each answer")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: *logLevel})).
		With("worker", *slot, "pid", os.Getpid())
	setMemoryLimit(int64(*memoryLimit), log)
	if *node == "" || *natsURL == "" {
		log.Error("worker: -node and -nats are required")
		return 2
	}
	auth, err := readAuth(*authFD)
	if err != nil {
		log.Error("worker: -nats-auth-fd", "err", err)
		return 2
	}
	application, err := app.New(*appName, app.Config{PushInterval: *pushInterval, EchoPrefix: echoPrefix})
	if err != nil {
		log.Error("worker: -app", "err", err)
		return 2
	}
	var store *certs.Store
	if *tlsCert != "" || *tlsKey != "" {
		if store, err = certs.Load(*tlsCert, *tlsKey); err != nil {
			log.Error("worker: -tls-cert/-tls-key", "err", err)
			return 2
		}
	}
	verifier, err := loadVerifier(*jwtSecret, *jwtKey)
	if err != nil {
		log.Error("worker: -jwt-secret-file/-jwt-key-file", "err", err)
		return 2
	}
	gw := gateway.Options{
		MaxMessage: int64(*maxMessage), SendBuffer: int(*sendBuffer),
		TrustedProxies: *proxies, AllowOrigins: *origins,
		Subprotocols: *protocols, RequireSubprotocol: *requireProto, Deflate: *deflate,
		Cores: *cores, PingInterval: orOff(*pingInterval), IdleTimeout: orOff(*idleTimeout),
		MaxConns: *maxConns, MaxConnsPerIP: *maxConnsIP, MaxRequestHead: int(*maxReqHead),
	}
	if *demoPage {
		gw.HTTP = site.Handler(wsfleet.Assets)
	}
	control, err := net.FileConn(os.NewFile(uintptr(*ctlFD), "control"))
	if err != nil {
		log.Error("worker: -ctl-fd", "err", err)
		return 1
	}
	ln, err := reuse.FromFile(os.NewFile(uintptr(*listenFD), "listener"))
	if err != nil {
		log.Error("worker: -listen-fd", "err", err)
		return 1
	}
	// The master drives stops; a terminal's Ctrl-C reaches the master only
	// (workers run in their own process group). SIGTERM sent to a worker
	// directly is a fast stop.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// Give memory back after a spike (issue 10); it stops with the worker.
	trimCtx, stopTrim := context.WithCancel(ctx)
	var trim sync.WaitGroup
	trim.Go(func() { memtrim.Run(trimCtx, memtrim.Options{Log: log}) })
	defer func() { stopTrim(); trim.Wait() }()
	err = worker.Run(ctx, worker.Options{
		Slot:     *slot,
		Node:     *node,
		Listener: ln,
		Control:  control,
		Bus:      bus.Options{URL: *natsURL, Prefix: *cluster, Name: fmt.Sprintf("worker %d pid %d", *slot, os.Getpid()), Logger: log, Auth: auth},
		App:      application,
		Gateway:  gw,
		Certs:    store,
		Events:   *events,
		Log:      log,
		MaxRooms: *maxRooms,

		Tokens:           verifier,
		TokenExpireClose: *jwtExpireClose,
		EventHeaders:     *eventHeaders,
	})
	if err != nil {
		log.Error("worker failed", "err", err)
		return 1
	}
	return 0
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

// maxAuth bounds what readAuth reads: credentials are a few hundred bytes.
const maxAuth = 64 << 10

// readAuth reads the bus credentials from the inherited pipe fd, once, and
// closes it; fd < 0 means none.
func readAuth(fd int) (bus.Auth, error) {
	var a bus.Auth
	if fd < 0 {
		return a, nil
	}
	f := os.NewFile(uintptr(fd), "nats-auth")
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxAuth+1))
	if err != nil {
		return a, err
	}
	if len(b) > maxAuth {
		return a, fmt.Errorf("more than %d bytes", maxAuth)
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, err
	}
	return a, nil
}

// orOff maps a flag's 0 ("never") to the gateway's negative "disabled"; the
// gateway reads 0 as its default.
func orOff(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// setMemoryLimit applies -memory-limit as the runtime's soft memory limit,
// unless the environment's GOMEMLIMIT (which the runtime already applied)
// or the flag says none.
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
