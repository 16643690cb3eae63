package master

import (
	"encoding/json"
	"io"
	"time"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// Options configures a Master. cmd/master fills and validates them from
// flags; the zero value of a field is not a default here.
type Options struct {
	Count        int           // worker processes
	Listen       string        // WebSocket address, host:port
	App          string        // application name
	PushInterval time.Duration // push app interval
	NATS         string        // external NATS URL; "" runs the embedded server
	NATSListen   string        // embedded NATS address
	// ClusterListen and Routes cluster the embedded NATS with other
	// hosts' (see bus.EmbeddedOptions).
	ClusterListen string
	Routes        []string
	ClusterName   string        // subject prefix
	Node          string        // this host's name in connection ids
	Grace         time.Duration // default grace for graceful stops and reloads
	MaxMessage    int64         // bytes
	SendBuffer    int64         // bytes
	PIDFile       string
	LogLevel      string
	WorkerBin     string

	// Passed to the workers (see cmd/worker's flags).
	TLSCert, TLSKey    string
	TrustedProxies     []string
	AllowOrigins       []string
	Subprotocols       []string
	RequireSubprotocol bool
	Deflate            bool
	WorkerCores        int           // per worker; 0 chooses (see CoresFor)
	PingInterval       time.Duration // 0: no pings
	IdleTimeout        time.Duration // 0: none
	DemoPage           bool
	Events             bool
	// Issue 10: memory and the echo app.
	MemoryLimit int64  // each worker's GOMEMLIMIT, bytes; 0: none (see MemoryLimitFor)
	EchoPrefix  string // the echo app's prefix

	// Issue 10, hub bounds.
	MaxRooms int // rooms per connection
	// Client authentication (issue 11), passed to the workers: each
	// reads the key files when it starts, so a reload rotates keys.
	JWTSecretFile  string   // HMAC secret of connection tokens
	JWTKeyFile     string   // PEM public key of connection tokens
	JWTExpireClose bool     // close connections whose token expired
	EventHeaders   []string // headers an open event carries
	// Limits at the door (issue 11). MaxConns and MaxConnsPerIP are for
	// the host: each worker enforces its share (see Share). 0: no limit.
	MaxConns       int
	MaxConnsPerIP  int
	MaxRequestHead int64 // bytes

	// ReadyTimeout bounds a worker's start. Default 15s.
	ReadyTimeout time.Duration
	// StartArgs are the start flags as given, kept for restart.
	StartArgs []string
	// LogOut receives the workers' output (their logs). Default os.Stderr.
	LogOut io.Writer

	// Bus credentials (issue 11).
	// NATSAuth is what the master and its workers present to NATS: the
	// -nats-* flags with an external server; with the embedded one the
	// master replaces it with credentials it generates.
	NATSAuth bus.Auth
	// BackendUser and BackendPassword add an account to the embedded NATS
	// for backends (docs/backend.md); no password, no account.
	BackendUser, BackendPassword string
	// RouteAuth are the embedded NATS's routes' credentials and TLS files,
	// required with ClusterListen.
	RouteAuth bus.RouteAuth
}

// jsonString decodes a JSON string.
func jsonString(raw json.RawMessage, s *string) error { return json.Unmarshal(raw, s) }

// CoresFor is the share of cores CPUs each of count workers may use at
// once (its epoll pollers and broadcast writers, see gateway.Options.Cores):
// asked, when positive; otherwise the cores divided among the workers, at
// least 1. Workerman's model is the same: a single-threaded event loop per
// process, a process per core.
func CoresFor(asked, count, cores int) int {
	if asked > 0 {
		return asked
	}
	return max(1, cores/max(count, 1))
}
