package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultEmbeddedListen is where the embedded server listens by default.
const DefaultEmbeddedListen = "127.0.0.1:4222"

// EmbeddedOptions configures the embedded NATS server. Zero values mean the
// defaults.
type EmbeddedOptions struct {
	// Listen is the client address, host:port. Default DefaultEmbeddedListen;
	// port 0 picks a free port.
	Listen string
	// Name is the server's name in NATS (monitoring, logs). Default: NATS
	// picks one.
	Name string
	// ReadyTimeout bounds the wait for the server to accept clients.
	// Default 10s.
	ReadyTimeout time.Duration
	// ClusterListen, when set, is where this server accepts routes from
	// the other hosts' servers (host:port).
	ClusterListen string
	// Routes are the other hosts' cluster addresses (nats://host:port).
	// A server may list itself; NATS ignores that route.
	Routes []string
	// ClusterName names the NATS cluster; every host's must match.
	// Default "wsfleet".
	ClusterName string

	// Users may log in with their name and password; with none, any
	// client may connect unauthenticated (this package's tests; wsfleet's
	// master always sets them, see issue 11).
	Users []User
	// Deny maps a user's name to subjects (wildcards allowed) it may
	// neither publish on nor receive from; a user not in it may use every
	// subject.
	Deny map[string][]string
	// Route is how servers authenticate one another on the routes,
	// required with ClusterListen: a user and password that every host
	// shares, and TLS whose certificates each side verifies against CA, so
	// that neither credentials nor traffic cross the network in clear.
	Route RouteAuth
	// StoreDir, when set, enables JetStream (room history, package
	// history), keeping its files there (-data-dir); with ClusterListen,
	// only when Routes are given too (NATS's clustered JetStream needs
	// them).
	StoreDir string
}

// User is an account of the embedded server.
type User struct {
	Name, Password string
}

// RouteAuth are the credentials and TLS files of the routes between
// hosts. Each host's certificate is used both to accept and to open
// routes, so it must name the host's route address (an IP or DNS subject
// alternative name) and allow both server and client use.
type RouteAuth struct {
	User, Password         string
	TLSCert, TLSKey, TLSCA string // PEM files
}

// Embedded is a NATS server running inside this process.
type Embedded struct {
	ns *server.Server
}

// StartEmbedded starts a NATS server in this process and returns once it
// accepts client connections. The server installs no signal handlers: the
// caller owns the process's signals.
func StartEmbedded(opts EmbeddedOptions, log *slog.Logger) (*Embedded, error) {
	if opts.Listen == "" {
		opts.Listen = DefaultEmbeddedListen
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 10 * time.Second
	}
	host, portStr, err := net.SplitHostPort(opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded NATS address %q: %w", opts.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("bus: embedded NATS address %q: bad port", opts.Listen)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	} else if err := probe(opts.Listen); err != nil {
		// NATS would only log this and never become ready; say it now.
		return nil, err
	}
	so := &server.Options{
		ServerName: opts.Name,
		Host:       host,
		Port:       port,
		NoSigs:     true,
	}
	// A clustered JetStream needs routes: a server given a cluster address
	// but no route (a cluster of one, for now) runs without it.
	if opts.StoreDir != "" && (opts.ClusterListen == "" || len(opts.Routes) > 0) {
		so.JetStream, so.StoreDir = true, opts.StoreDir
	}
	for _, u := range opts.Users {
		su := &server.User{Username: u.Name, Password: u.Password}
		if deny := opts.Deny[u.Name]; len(deny) > 0 {
			su.Permissions = &server.Permissions{
				Publish:   &server.SubjectPermission{Deny: deny},
				Subscribe: &server.SubjectPermission{Deny: deny},
			}
		}
		so.Users = append(so.Users, su)
	}
	if err := clusterOptions(so, opts); err != nil {
		return nil, err
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded NATS: %w", err)
	}
	ns.SetLoggerV2(natsLogger{l: log.With("component", "nats"), limit: &lineLimit{}}, false, false, false)
	ns.Start()
	if !ns.ReadyForConnections(opts.ReadyTimeout) {
		ns.Shutdown()
		ns.WaitForShutdown()
		return nil, fmt.Errorf("bus: embedded NATS on %s not ready within %s", opts.Listen, opts.ReadyTimeout)
	}
	return &Embedded{ns: ns}, nil
}

// clusterOptions fills so's route settings from opts.
func clusterOptions(so *server.Options, opts EmbeddedOptions) error {
	if opts.ClusterListen == "" {
		if len(opts.Routes) > 0 {
			return fmt.Errorf("bus: routes need a cluster address (-cluster-listen)")
		}
		return nil
	}
	host, portStr, err := net.SplitHostPort(opts.ClusterListen)
	if err != nil {
		return fmt.Errorf("bus: cluster address %q: %w", opts.ClusterListen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port <= 0 || port > 65535 {
		return fmt.Errorf("bus: cluster address %q: bad port", opts.ClusterListen)
	}
	if err := probe(opts.ClusterListen); err != nil {
		return err
	}
	so.Cluster.Host, so.Cluster.Port = host, port
	so.Cluster.Name = cmp.Or(opts.ClusterName, DefaultPrefix)
	ra := opts.Route
	if ra.User == "" || ra.Password == "" {
		return fmt.Errorf("bus: routes need a user and password (-cluster-user, -cluster-password-file)")
	}
	if ra.TLSCert == "" || ra.TLSKey == "" || ra.TLSCA == "" {
		return fmt.Errorf("bus: routes need TLS (-cluster-tls-cert, -cluster-tls-key, -cluster-tls-ca)")
	}
	so.Cluster.Username, so.Cluster.Password = ra.User, ra.Password
	// Verify: a route must show a certificate signed by the CA, as the
	// server it dials must.
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: ra.TLSCert, KeyFile: ra.TLSKey, CaFile: ra.TLSCA, Verify: true,
	})
	if err != nil {
		return fmt.Errorf("bus: route TLS: %w", err)
	}
	// A server both accepts and opens routes: the CA verifies either peer.
	tc.RootCAs = tc.ClientCAs
	so.Cluster.TLSConfig, so.Cluster.TLSTimeout = tc, routeTLSTimeout.Seconds()
	if len(opts.Routes) > 0 {
		routes := server.RoutesFromStr(strings.Join(opts.Routes, ","))
		if len(routes) != len(opts.Routes) {
			return fmt.Errorf("bus: routes %q: want nats://host:port, comma-separated", opts.Routes)
		}
		// NATS sends the credentials in the route's URL; implicit routes
		// (learnt from the others) get them from so.Cluster.
		for _, r := range routes {
			r.User = url.UserPassword(ra.User, ra.Password)
		}
		so.Routes = routes
	}
	return nil
}

// routeTLSTimeout bounds a route's TLS handshake.
const routeTLSTimeout = 5 * time.Second

func probe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("bus: embedded NATS cannot listen on %s: address already in use", addr)
		}
		return fmt.Errorf("bus: embedded NATS cannot listen on %s: %w", addr, err)
	}
	return ln.Close()
}

// Server is the NATS server itself, for monitoring (Connz, Varz) and tests.
func (e *Embedded) Server() *server.Server { return e.ns }

// ClientURL is the URL clients connect to, e.g. nats://127.0.0.1:4222.
func (e *Embedded) ClientURL() string { return e.ns.ClientURL() }

// Shutdown stops the server and waits until it has stopped. It is safe to
// call more than once.
func (e *Embedded) Shutdown() {
	e.ns.Shutdown()
	e.ns.WaitForShutdown()
}

// natsLogger adapts slog to the NATS server's logger interface.
// natsLogger passes the embedded server's log to slog. Its warnings and
// errors go through a rate limit: most of them are about one client (an
// authorization violation, a client that never logs in), so anyone who
// reaches the port could otherwise write the master's log as fast as they
// connect (nats-server's own RateLimitWarnf covers only a few messages).
type natsLogger struct {
	l     *slog.Logger
	limit *lineLimit
}

func (n natsLogger) Noticef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n natsLogger) Warnf(format string, v ...any) {
	// This warning is for configuration files: our passwords are made at
	// start or read from 0600 files, and are never in one.
	if strings.HasPrefix(format, "Plaintext passwords detected") {
		n.l.Debug(fmt.Sprintf(format, v...))
		return
	}
	n.log(slog.LevelWarn, format, v)
}
func (n natsLogger) Fatalf(format string, v ...any) { n.l.Error(fmt.Sprintf(format, v...)) }
func (n natsLogger) Errorf(format string, v ...any) { n.log(slog.LevelError, format, v) }
func (n natsLogger) Debugf(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }
func (n natsLogger) Tracef(format string, v ...any) { n.l.Debug(fmt.Sprintf(format, v...)) }

// log writes a rate-limited line, with the number the limit held back
// since the last one written.
func (n natsLogger) log(level slog.Level, format string, v []any) {
	suppressed, ok := n.limit.allow(time.Now())
	if !ok {
		return
	}
	n.l.Log(context.Background(), level, fmt.Sprintf(format, v...), "suppressed", suppressed)
}

// natsLogBurst is how many warnings and errors a second the embedded
// server may log.
const natsLogBurst = 20

// lineLimit lets natsLogBurst lines a second through and counts the rest.
type lineLimit struct {
	mu         sync.Mutex
	second     int64
	lines      int
	suppressed int
}

func (l *lineLimit) allow(now time.Time) (suppressed int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := now.Unix(); s != l.second {
		l.second, l.lines = s, 0
	}
	if l.lines >= natsLogBurst {
		l.suppressed++
		return 0, false
	}
	l.lines++
	suppressed, l.suppressed = l.suppressed, 0
	return suppressed, true
}
