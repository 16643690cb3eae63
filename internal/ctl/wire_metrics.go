package ctl

// OpMetrics asks a worker for its counters for the master's /metrics: it
// answers a WorkerMetrics.
const OpMetrics = "metrics"

// EventMetrics is a stopping worker's last word: its final WorkerMetrics,
// sent once its connections are closed, so that the master's counters
// keep what it counted after the last scrape.
const EventMetrics = "metrics"

// WorkerMetrics is a worker's answer to OpMetrics: plain numbers, which the
// master turns into Prometheus metrics (the worker links no Prometheus
// library). Every counter counts since the worker started.
type WorkerMetrics struct {
	PID int `json:"pid"`
	// Connections is the number of open connections now.
	Connections int    `json:"connections"`
	Accepted    uint64 `json:"accepted"`
	MessagesIn  uint64 `json:"messages_in"`
	MessagesOut uint64 `json:"messages_out"`
	BytesIn     uint64 `json:"bytes_in"`
	BytesOut    uint64 `json:"bytes_out"`
	// Closed counts ended connections by close code: "1000" to "1015",
	// "4xxx" or "other".
	Closed map[string]uint64 `json:"closed"`
	// HandshakeFailures counts failed upgrades by reason (gateway.FailReason).
	HandshakeFailures map[string]uint64 `json:"handshake_failures"`
	// SendBufferCloses counts connections closed with 1008 for a full
	// send buffer; RateLimitCloses those closed with 1013 for sending
	// faster than the application takes their messages.
	SendBufferCloses uint64 `json:"send_buffer_closes"`
	RateLimitCloses  uint64 `json:"rate_limit_closes"`
	// BusReconnects counts the worker's reconnections to NATS.
	BusReconnects uint64 `json:"bus_reconnects"`
	BusConnected  bool   `json:"bus_connected"`
	// Webhook counts -webhook events by result: "sent" (answered),
	// "failed" (unreachable, timeout, non-2xx, bad answer) and
	// "queue_full" (refused: the connection's queue was full).
	Webhook map[string]uint64 `json:"webhook,omitempty"`
	// Delivery is the broadcast delivery latency: from a bus message's
	// publication (bus.HeaderSent) to its write to this worker's sockets.
	Delivery Histogram `json:"delivery"`
}

// Histogram is a histogram kept as counts per bucket.
type Histogram struct {
	// Bounds are the buckets' upper bounds in seconds, ascending; the
	// last bucket, +Inf, has none.
	Bounds []float64 `json:"bounds"`
	// Counts has one count per bucket, len(Bounds)+1, not cumulative.
	Counts []uint64 `json:"counts"`
	// Sum is the sum of the observations in seconds.
	Sum float64 `json:"sum"`
}
