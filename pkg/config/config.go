// Package config is every setting of a wsfleet cluster, declared once: a
// field of [Config], its flag, its default ([Default]) and its check
// ([Config.Check]).
//
// A program sets its defaults in code on a Config; the command line's
// flags ([Config.Flags]) override them; the master checks the result and
// sends the whole value to every worker it starts, which builds its
// connection engine, hub and application from it. Zero means "off" or
// "no limit" wherever a field says so, and nowhere else.
package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// Config is every setting of a cluster. The first group is the master's;
// the second reaches every worker; the third is the bus's credentials.
type Config struct {
	// Count is how many worker processes share Listen (-count). Default 4.
	Count int
	// Listen is the WebSocket address every worker accepts on, host:port
	// (-listen). Default ":8080".
	Listen string
	// PIDFile is the master's pid file; the control socket is beside it
	// (-pid-file). Default DefaultPIDFile().
	PIDFile string
	// LogFile is where a daemon logs (-log-file). "": master.log beside
	// PIDFile.
	LogFile string
	// LogLevel is the master's and workers' log level (-log-level).
	LogLevel slog.Level
	// LogFormat is the logs' format, "text" or "json" (-log-format).
	// Default "text".
	LogFormat string
	// AdminListen is where the master serves /metrics, /livez, /readyz
	// and the HTTP API (-admin-listen), host:port. "": off.
	AdminListen string
	// APIKeyFile holds the key the HTTP API asks for in X-API-Key
	// (-api-key-file), trimmed of surrounding whitespace. "": no API.
	APIKeyFile string
	// AdminPasswordFile holds the password of the admin page, /admin/ on
	// the admin listener (-admin-password-file), trimmed; readable by its
	// owner only. "": no admin page (/admin/ is 404).
	AdminPasswordFile string
	// Grace is how long graceful stops and reloads wait for clients before
	// closing them (-grace). Default 30s.
	Grace time.Duration
	// Handoff makes a reload hand every live plain TCP connection to the
	// slot's new worker, with its rooms, user and application state,
	// instead of closing it with 1012 (-handoff; docs/architecture.md),
	// every message to it delivered exactly once across the move. Default
	// true; reload -g, TLS connections, -webhook, -jwt-expire-close and an
	// application that does not implement app.Handoffer drain with 1012.
	Handoff bool
	// WorkerTimeout is how long a worker may leave the master's heartbeat
	// unanswered before the master kills and restarts it
	// (-worker-timeout). Default 5s. A machine whose cores are shared by
	// far more busy processes than it has (a million connections and their
	// clients on two cores) starves a healthy worker for longer.
	WorkerTimeout time.Duration
	// Node is this host's name in connection ids (-node). Default: the
	// short host name.
	Node string
	// ClusterName prefixes every NATS subject (-cluster-name). Default
	// "wsfleet".
	ClusterName string
	// NATS is an external NATS server's URL, or comma-separated URLs
	// (-nats). "": the master runs an embedded one.
	NATS string
	// NATSListen is where the embedded NATS listens (-nats-listen).
	// Default "127.0.0.1:4222".
	NATSListen string
	// ClusterListen is where the embedded NATS accepts routes from other
	// hosts (-cluster-listen). "": one host.
	ClusterListen string
	// Routes are the other hosts' ClusterListen addresses, nats://host:port
	// (-routes).
	Routes []string
	// WorkerBin is the worker executable (-worker-bin). "": this program,
	// run again as "<program> worker".
	WorkerBin string
	// MemoryLimit is each worker's Go memory limit (-memory-limit): a size,
	// "0" for none, or "auto" (the default): three quarters of the
	// cgroup's memory.max shared among the workers.
	MemoryLimit string

	// MaxMessage is the largest message a client may send, in bytes
	// (-max-message); larger ones close with 1009. Default 10 MiB.
	MaxMessage int64
	// SendBuffer is the pending output per connection behind the frame
	// being written, in bytes (-send-buffer); a client further behind is
	// closed with 1008. Default 1 MiB.
	SendBuffer int64
	// TLSCert and TLSKey serve wss:// (-tls-cert, -tls-key, PEM files).
	TLSCert, TLSKey string
	// TrustedProxies are the proxies whose X-Forwarded-For or X-Real-IP
	// name the client (-trusted-proxy).
	TrustedProxies []netip.Prefix
	// AllowOrigins are the allowed Origin values (-allow-origin). None:
	// any.
	AllowOrigins []string
	// Subprotocols are the subprotocols the server speaks, in order of
	// preference (-subprotocols).
	Subprotocols []string
	// RequireSubprotocol refuses upgrades that offer none of Subprotocols
	// (-require-subprotocol).
	RequireSubprotocol bool
	// Deflate negotiates permessage-deflate (-deflate).
	Deflate bool
	// WorkerCores is how many cores each worker may use at once
	// (-worker-cores): its epoll pollers and broadcast writers, and its
	// GOMAXPROCS (at most the CPUs it may use; the environment's
	// GOMAXPROCS wins). 0: the cores divided among the workers, at
	// least 1 (see CoresFor).
	WorkerCores int
	// PingInterval is how often every connection is pinged
	// (-ping-interval). 0: never. Default 25s.
	PingInterval time.Duration
	// IdleTimeout closes a connection silent for this long
	// (-idle-timeout). 0: never. Default 60s.
	IdleTimeout time.Duration
	// TCPKeepAlive is the idle time before TCP keep-alive probes start on
	// a client's socket, and their interval (-tcp-keepalive). 0: no
	// probes. Default 15s, Go's.
	TCPKeepAlive time.Duration
	// Events publishes connection events on NATS for backends (-events).
	Events bool
	// EventHeaders are the request headers an open event carries
	// (-events-headers and the webhook's open events).
	EventHeaders []string
	// Webhook is the URL each connection's open, messages and close are
	// POSTed to (-webhook). "": none.
	Webhook string
	// WebhookTimeout bounds one webhook request (-webhook-timeout).
	// Default 5s.
	WebhookTimeout time.Duration
	// WebhookConcurrency is the most webhook requests one worker has in
	// flight (-webhook-concurrency). Default 64.
	WebhookConcurrency int
	// WebhookSecretFile holds the key every webhook request is signed
	// with, in X-Wsfleet-Signature (-webhook-secret-file), trimmed of
	// surrounding whitespace, at least 32 bytes. "": unsigned.
	WebhookSecretFile string
	// DemoPage answers plain HTTP GETs on Listen with the demo page
	// (-demo-page). Default true.
	DemoPage bool
	// MaxRooms is the most rooms one connection may be in (-max-rooms).
	// Default 100.
	MaxRooms int
	// History says which rooms keep their messages in JetStream, and how
	// many for how long (-history): 'PATTERN=COUNT,AGE;...', '*' matching
	// any run of characters, the first match winning; a pattern with a
	// leading '@' is for the messages to users whose names match the rest
	// (the chat's whispers); "off" keeps none. Default "*=100,1h;@*=100,1h".
	History string
	// HistoryReplicas is the history stream's replicas (-history-replicas),
	// for a NATS cluster of 3 hosts or more, set when the stream is made
	// (an existing stream's are left as they are, with a warning; see
	// docs/operations.md). Default 1.
	HistoryReplicas int
	// HistoryMaxBytes bounds the history stream's size; past it the
	// oldest messages of every room go first (-history-max-bytes).
	// Default 1 GiB.
	HistoryMaxBytes int64
	// DataDir is where the embedded NATS keeps JetStream's files, so that
	// history survives reload and restart (-data-dir). Default: "data"
	// beside the pid file. The master makes it, mode 0700.
	DataDir string
	// JWTSecretFile and JWTKeyFile require a connection token signed with
	// the HMAC secret, or the private half of the PEM public key, in the
	// file (-jwt-secret-file, -jwt-key-file).
	JWTSecretFile, JWTKeyFile string
	// JWTExpireClose closes a connection with 4001 when its token expires
	// (-jwt-expire-close).
	JWTExpireClose bool
	// MaxConns is the most connections on this host, each worker taking
	// its share (-max-conns). 0: no limit.
	MaxConns int
	// MaxConnsPerIP is the most connections from one client address, each
	// worker taking its share (-max-conns-per-ip). 0: no limit.
	MaxConnsPerIP int
	// MaxRequestHead is the longest HTTP request head, in bytes
	// (-max-request-head). Default 32 KiB.
	MaxRequestHead int64

	// Bus holds the bus's credentials; secrets are files, never values.
	Bus BusConfig
}

// BusConfig names the files and users of the bus's credentials. Secrets
// are read from files, never given as values: argv is readable by every
// local user.
type BusConfig struct {
	// User and PasswordFile log in to an external NATS (-nats-user,
	// -nats-password-file).
	User, PasswordFile string
	// CredsFile is an external NATS's credentials file (-nats-creds).
	CredsFile string
	// TLSCert, TLSKey and TLSCA are an external NATS's client certificate,
	// its key, and the server's CA (-nats-tls-cert, -nats-tls-key,
	// -nats-tls-ca).
	TLSCert, TLSKey, TLSCA string
	// BackendUser and BackendPasswordFile add an account for backends to
	// the embedded NATS (-nats-backend-user, -nats-backend-password-file).
	BackendUser, BackendPasswordFile string
	// ClusterUser, ClusterPasswordFile and ClusterTLS* secure the routes
	// between hosts (-cluster-user, -cluster-password-file,
	// -cluster-tls-cert, -cluster-tls-key, -cluster-tls-ca).
	ClusterUser, ClusterPasswordFile            string
	ClusterTLSCert, ClusterTLSKey, ClusterTLSCA string
}

// Default returns the defaults of every setting.
func Default() Config {
	return Config{
		Count:              4,
		Listen:             ":8080",
		PIDFile:            DefaultPIDFile(),
		LogLevel:           slog.LevelInfo,
		LogFormat:          "text",
		Grace:              30 * time.Second,
		Handoff:            true,
		WorkerTimeout:      5 * time.Second,
		Node:               DefaultNode(),
		ClusterName:        "wsfleet",
		NATSListen:         "127.0.0.1:4222",
		MemoryLimit:        "auto",
		MaxMessage:         10 << 20,
		SendBuffer:         1 << 20,
		PingInterval:       25 * time.Second,
		IdleTimeout:        60 * time.Second,
		TCPKeepAlive:       15 * time.Second,
		DemoPage:           true,
		MaxRooms:           100,
		History:            "*=100,1h;@*=100,1h",
		HistoryReplicas:    1,
		HistoryMaxBytes:    1 << 30,
		MaxRequestHead:     32 << 10,
		WebhookTimeout:     5 * time.Second,
		WebhookConcurrency: 64,
		Bus:                BusConfig{BackendUser: "backend", ClusterUser: "wsfleet-route"},
	}
}

// DefaultPIDFile is $XDG_RUNTIME_DIR/wsfleet/master.pid, or
// $TMPDIR/wsfleet-<uid>/master.pid without it.
func DefaultPIDFile() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "wsfleet", "master.pid")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("wsfleet-%d", os.Getuid()), "master.pid")
}

// DefaultNode is the short host name, letters, digits, '-' and '_' only, or
// "node" when it has none.
func DefaultNode() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "node"
	}
	b := []byte(h)
	for i, c := range b {
		if c == '.' {
			b = b[:i]
			break
		}
		if !(c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "node"
	}
	return string(b)
}
