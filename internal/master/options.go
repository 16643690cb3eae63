package master

import (
	"encoding/json"
	"io"
	"time"
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
	Pollers            int // per worker; 0 chooses (see PollersFor)
	DemoPage           bool
	Events             bool

	// ReadyTimeout bounds a worker's start. Default 15s.
	ReadyTimeout time.Duration
	// StartArgs are the start flags as given, kept for restart.
	StartArgs []string
	// LogOut receives the workers' output (their logs). Default os.Stderr.
	LogOut io.Writer
}

// jsonString decodes a JSON string.
func jsonString(raw json.RawMessage, s *string) error { return json.Unmarshal(raw, s) }

// PollersFor is the number of epoll pollers each of count workers runs on
// cores CPUs: asked, when positive; otherwise the cores divided among the
// workers, at most cores-1 and at least 1. A poller waiting in epoll_wait
// holds a P of the Go scheduler in a system call: a worker needs a P left
// over so that the runtime's sysmon can back off (with every P in a system
// call it wakes every 20 µs to retake them, which costs a worker about 15 %
// of its CPU), and fewer pollers gather more events per wake-up.
// Workerman's model is the same: a single-threaded event loop per process,
// a process per core.
func PollersFor(asked, count, cores int) int {
	if asked > 0 {
		return asked
	}
	return max(1, min(cores/max(count, 1), cores-1))
}
