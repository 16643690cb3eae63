// Package record is the JSON that one run of the load generator
// (bench/loadgen) prints and the report (bench/report) reads: the contract
// between the two programs. Fields are only ever added, so that the report
// still reads results written before them.
package record

import "time"

// Result is what one loadgen run prints.
type Result struct {
	Server      string     `json:"server"`
	Label       string     `json:"label"`
	Config      string     `json:"config"`
	Modes       []string   `json:"modes"`
	StartedAt   time.Time  `json:"started_at"`
	Seconds     float64    `json:"seconds"`
	Load1       float64    `json:"load1_at_start"`
	Conns       int        `json:"conns"`
	ClientProcs int        `json:"client_procs"`
	Sources     int        `json:"sources"`
	Connect     *Connect   `json:"connect,omitempty"`
	Memory      *Memory    `json:"memory,omitempty"`
	Broadcast   *Broadcast `json:"broadcast,omitempty"`
	Echo        *Echo      `json:"echo,omitempty"`
	Push        *Push      `json:"push,omitempty"`
	Chat        *Chat      `json:"chat,omitempty"`
	Dropped     int        `json:"dropped"` // connections lost before the end
	Errors      []string   `json:"errors,omitempty"`
	OK          bool       `json:"ok"`
}

// Machine describes where the benchmark ran.
type Machine struct {
	CPUs      int     `json:"cpus"`
	CPUModel  string  `json:"cpu_model"`
	MemBytes  int64   `json:"mem_bytes"`
	Kernel    string  `json:"kernel"`
	GoVersion string  `json:"go_version"`
	Load1     float64 `json:"load1"`
	Load5     float64 `json:"load5"`
	Load15    float64 `json:"load15"`
	FileLimit string  `json:"file_limit"`
	PortRange string  `json:"port_range"`
}

// Connect is the opening of every connection, TCP and WebSocket
// handshake, by all client processes at once.
type Connect struct {
	Opened    int     `json:"opened"`
	Failed    int     `json:"failed"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// ServerCPUSeconds is the CPU time (user + system, 10 ms ticks) of the
	// server's whole process tree while the connections opened: for
	// wsfleet the master with its embedded NATS, and every worker.
	ServerCPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	// PerCPUSecond is Opened / ServerCPUSeconds.
	PerCPUSecond     float64 `json:"per_server_cpu_second,omitempty"`
	ClientCPUSeconds float64 `json:"client_cpu_seconds,omitempty"`
	// Errors samples why connections failed (loadgen -allow-failed).
	Errors []string `json:"errors,omitempty"`
	// TLS is the protocol version of the wss:// connections ("TLS 1.3");
	// empty for ws://.
	TLS string `json:"tls,omitempty"`
	// Resumed counts the wss:// connections whose TLS handshake resumed a
	// session (tls.ConnectionState.DidResume) instead of a full handshake.
	Resumed int `json:"resumed,omitempty"`
	// Warmup is how many wss:// connections each client process opened
	// and closed, one at a time, before the timed ones, to fill its
	// session cache with a ticket; they are in no other figure.
	Warmup int `json:"warmup,omitempty"`
}

// Memory is the server's memory with every connection open and idle.
type Memory struct {
	Processes     int     `json:"processes"`
	BaselineBytes int64   `json:"baseline_bytes"` // PSS before the connections
	Bytes         int64   `json:"bytes"`          // PSS with them
	PerConnBytes  float64 `json:"per_conn_bytes"` // (Bytes - BaselineBytes) / connections
	TotalPerConn  float64 `json:"total_per_conn_bytes"`
	PerProcess    []int64 `json:"per_process_bytes"`
	SettleSeconds float64 `json:"settle_seconds"`
	// KernelTCPBytes is the growth of the kernel's TCP buffer memory,
	// machine-wide, both ends of every connection (/proc/net/sockstat). The
	// socket structures themselves are in neither figure.
	KernelTCPBytes int64 `json:"kernel_tcp_bytes"`
	// SlabBytes is the growth of the kernel's slab memory (Slab in
	// /proc/meminfo) since before the connections were opened,
	// machine-wide: both ends' socket structures, files, epoll entries.
	SlabBytes int64 `json:"slab_bytes,omitempty"`
	// SlabCaches are the slab caches that grew the most, largest first.
	SlabCaches []SlabCache `json:"slab_caches,omitempty"`
	// ClientBytes is the load generator's own PSS, all its processes.
	ClientBytes int64 `json:"client_bytes,omitempty"`
}

// SlabCache is one kernel slab cache's growth (/proc/slabinfo: slabs ×
// pages per slab).
type SlabCache struct {
	Name    string `json:"name"`
	Bytes   int64  `json:"bytes"`
	Objects int64  `json:"objects"` // growth of its active objects
	ObjSize int64  `json:"obj_size"`
}

// Echo is the closed-loop echo: each client sends a message, waits
// for the answer, and sends the next.
type Echo struct {
	Clients          int     `json:"clients"`
	PayloadBytes     int     `json:"payload_bytes"`
	Seconds          float64 `json:"seconds"`
	RoundTrips       uint64  `json:"round_trips"`
	PerSecond        float64 `json:"per_second"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	PerCPUSecond     float64 `json:"per_server_cpu_second"`
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	// OtherCPUSeconds is what the rest of the machine used in the window:
	// other processes (other engineers' tests, if any) and interrupts not
	// served in the server's or the clients' context. CPU time is sampled
	// in 10 ms ticks, so small values are noise.
	OtherCPUSeconds float64 `json:"other_cpu_seconds"`
	P50MS           float64 `json:"p50_ms"`
	P99MS           float64 `json:"p99_ms"`
	P999MS          float64 `json:"p999_ms"`
	MaxMS           float64 `json:"max_ms"`
}

// Broadcast is several broadcasts to every connection, one after the
// other. Live rounds are timed by when each client read the message; held
// rounds (with -hold) by when the kernel received it, the clients reading
// nothing until the hold ends. The two kinds alternate, live first.
type Broadcast struct {
	Trigger string `json:"trigger"`
	Rounds         // live; inline, as before held rounds existed
	// HoldMS is how long the clients read nothing after a held round's
	// publish; 0 without held rounds.
	HoldMS float64 `json:"hold_ms,omitempty"`
	Held   *Rounds `json:"held,omitempty"`
}

// Rounds is the broadcasts of one kind; the summary figures are medians
// over them.
type Rounds struct {
	Rounds         []Spread `json:"rounds"`
	FullyDelivered int      `json:"fully_delivered_rounds"`
	P50MS          float64  `json:"p50_ms"`
	P99MS          float64  `json:"p99_ms"`
	P100MS         float64  `json:"p100_ms"`
	// MedianRound is the index of the round with the median p99, the one to
	// plot.
	MedianRound int `json:"median_round"`
	// ServerCPUUS and ClientCPUUS are the CPU time the server's and the
	// clients' processes spent per delivered message, in µs: in a live
	// round from the publish until every client process reported, where
	// the time of a broadcast goes on a machine the two share; in a held
	// round from the publish to the end of the hold.
	ServerCPUUS float64 `json:"server_cpu_us_per_delivery"`
	ClientCPUUS float64 `json:"client_cpu_us_per_delivery"`
}

// Spread summarises how long a message took to reach a set of connections:
// the time until a share of them had it, from exact per-connection values.
type Spread struct {
	Connections int     `json:"connections"`
	Delivered   int     `json:"delivered"`
	P50MS       float64 `json:"p50_ms"`
	P99MS       float64 `json:"p99_ms"`
	P100MS      float64 `json:"p100_ms"`
	// A share never reached shows as -1. CDFMS[i] is the time by which
	// i/(len-1) of the connections had the message (for plots).
	CDFMS []float64 `json:"cdf_ms"`
}

// Push is the push app's timer seen from every connection: each tick
// the master publishes must reach each connection once.
type Push struct {
	IntervalSeconds float64 `json:"interval_seconds"`
	Ticks           []Tick  `json:"ticks"`
	// AllDelivered: every connection got every tick.
	AllDelivered bool `json:"all_delivered"`
	MissedConns  int  `json:"missed_conns"` // connections that missed at least one tick
	Extra        int  `json:"extra"`        // messages that matched no tick
	// ReadLate counts messages the clients read more than 1 s after their
	// kernel received them (SO_TIMESTAMPING): lateness of the load
	// generator's, not the server's.
	ReadLate int `json:"read_late"`
	// CPU from the mark to the last tick's tally, the ticks' and the
	// pings' (seconds of CPU, and of wall clock for the window).
	WindowSeconds     float64 `json:"window_seconds,omitempty"`
	ServerCPUSeconds  float64 `json:"server_cpu_seconds,omitempty"`
	ClientCPUSeconds  float64 `json:"client_cpu_seconds,omitempty"`
	MachineCPUSeconds float64 `json:"machine_cpu_seconds,omitempty"` // every process and interrupt, all cores
	// Doubled counts receipts in the window beyond the ticks published, on
	// all connections: a tick delivered twice.
	Doubled int `json:"doubled,omitempty"`
	// Reload is the reload run in the middle of the ticks (loadgen
	// -reload-cmd), nil without one.
	Reload *Reload `json:"reload,omitempty"`
}

// Tick is one push as the connections got it; delays count from the moment
// the benchmark's own NATS subscriber saw it, or the first connection did if
// that was earlier.
type Tick struct {
	Delivered int     `json:"delivered"`
	Conns     int     `json:"conns"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	MaxMS     float64 `json:"max_ms"`
}
