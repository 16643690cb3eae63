package ctl

import "time"

// The operations. The command line asks the master OpStatus,
// OpConnections, OpInfo, OpStop and OpReload (the master's own types, in
// internal/master, are their arguments and answers); the master asks each
// worker OpStatus, OpConnections, OpPing, OpStopAccepting, OpReloadTLS and
// OpStop, with the types below.
const (
	// OpStatus asks for numbers: a worker answers a WorkerStatus.
	OpStatus = "status"
	// OpConnections lists connections: a worker answers a Stream of
	// ConnInfo items.
	OpConnections = "connections"
	// OpPing is the master's heartbeat: a worker that answers at all is
	// alive.
	OpPing = "ping"
	// OpStopAccepting makes a worker accept no more connections; a
	// reload sends it to every old worker before any closes a client.
	OpStopAccepting = "stop-accepting"
	// OpReloadTLS makes a worker read its TLS certificate files again.
	OpReloadTLS = "reload-tls"
	// OpStop stops a worker (its argument a StopRequest) or, from the
	// command line, the master.
	OpStop = "stop"
	// OpReload, from the command line, replaces the master's workers.
	OpReload = "reload"
	// OpInfo, from the command line, asks the master who it is.
	OpInfo = "info"
)

// The events a worker sends its master.
const (
	// EventReady: the worker accepts connections. Its data is a
	// ReadyEvent.
	EventReady = "ready"
	// EventFailed: the worker could not start. Its data is the error's
	// text, a JSON string.
	EventFailed = "failed"
)

// ReadyEvent is the data of EventReady.
type ReadyEvent struct {
	PID int `json:"pid"`
}

// StopReason says why a worker is asked to stop; the worker chooses its
// clients' close code from it.
type StopReason string

const (
	// StopShutdown: the cluster is stopping. Clients get 1001 (going
	// away).
	StopShutdown StopReason = "shutdown"
	// StopReplaced: a reload replaced the worker. Clients get 1012
	// (service restart) and reconnect to its replacement.
	StopReplaced StopReason = "replaced"
)

// StopRequest is the argument of a worker's OpStop.
type StopRequest struct {
	Reason StopReason `json:"reason"`
	// Graceful: stop accepting and wait up to Grace for clients to leave
	// before closing the rest.
	Graceful bool          `json:"graceful"`
	Grace    time.Duration `json:"grace"`
}

// WorkerStatus is a worker's answer to OpStatus.
type WorkerStatus struct {
	PID          int       `json:"pid"`
	Slot         int       `json:"slot"`
	Started      time.Time `json:"started"`
	BusConnected bool      `json:"bus_connected"`
	Draining     bool      `json:"draining"`
	// Cores is how many cores the worker may use at once, and MemoryLimit
	// its Go memory limit in bytes (0: none): what its setup resolved.
	Cores       int   `json:"cores"`
	MemoryLimit int64 `json:"memory_limit"`
	// Procs is the worker's GOMAXPROCS: its share of the cores (Cores, at
	// most the CPUs it may use), unless its environment set GOMAXPROCS.
	Procs int `json:"procs"`
	// Build is the worker's own build ("VERSION (GOVERSION OS/ARCH)"): a
	// reload runs the program on disk, which may be newer than the
	// master.
	Build string `json:"build,omitempty"`
	Stats
}

// Stats are a worker's connection counters (its gateway's).
type Stats struct {
	Connections  int    `json:"connections"`
	Accepted     uint64 `json:"accepted"`
	MessagesIn   uint64 `json:"messages_in"`
	MessagesOut  uint64 `json:"messages_out"`
	SendFailures uint64 `json:"send_failures"`
	// Refused counts the clients the worker's limits turned away.
	Refused Refusals `json:"refused"`
}

// Refusals counts the clients a worker's limits turned away, by reason.
type Refusals struct {
	MaxConns   uint64 `json:"max_conns"`   // 503, too many connections
	PerIP      uint64 `json:"per_ip"`      // 429, too many from one address
	Handshakes uint64 `json:"handshakes"`  // 429, too many handshakes from one address
	Files      uint64 `json:"files"`       // 503, out of file descriptors
	BadRequest uint64 `json:"bad_request"` // 400, 403, 405, 414 or 431
	Timeouts   uint64 `json:"timeouts"`    // 408, handshake too slow
}

// Add adds o's counts to r (a sum over workers).
func (r *Refusals) Add(o Refusals) {
	r.MaxConns += o.MaxConns
	r.PerIP += o.PerIP
	r.Handshakes += o.Handshakes
	r.Files += o.Files
	r.BadRequest += o.BadRequest
	r.Timeouts += o.Timeouts
}

// ConnInfo is one item of a worker's answer to OpConnections.
type ConnInfo struct {
	ID          string    `json:"id"`
	Remote      string    `json:"remote"`
	BytesIn     uint64    `json:"bytes_in"`
	BytesOut    uint64    `json:"bytes_out"`
	MessagesIn  uint64    `json:"messages_in"`
	MessagesOut uint64    `json:"messages_out"`
	Created     time.Time `json:"created"`
	// User is the user the connection is bound to (a token's sub, or the
	// application's BindUser), or "".
	User string `json:"user,omitempty"`
}
