package record

// Chat is the chat app's room under steady traffic: Members connections
// joined to one room, Senders of them saying messages at a fixed total
// rate, every member receiving every message (the sender included).
type Chat struct {
	Room          string  `json:"room"`
	Members       int     `json:"members"`
	Senders       int     `json:"senders"`
	RatePerSecond float64 `json:"rate_per_second"` // messages said per second, all senders
	// History is what the members saw: true when the said messages carried
	// a position ("offset", "epoch"), the room keeping them in JetStream.
	History bool `json:"history"`
	// Said is the messages said in the measured window; Expected is
	// Said × Members; Delivered is what the members got of them.
	Said      int    `json:"said"`
	Expected  uint64 `json:"expected"`
	Delivered uint64 `json:"delivered"`
	// Seconds is the CPU window: from the first measured message to the
	// last delivery of the last one (or the drain's timeout).
	Seconds float64 `json:"seconds"`
	// ServerCPUSeconds is the user+system CPU time of the server's process
	// tree (the master with its embedded NATS, and the workers) in the
	// window; the per-message figures divide it by Said and by Delivered.
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	CPUUSPerSaid     float64 `json:"server_cpu_us_per_said"`
	CPUUSPerDelivery float64 `json:"server_cpu_us_per_delivery"`
	// IdleCPUPerSecond is the server's CPU per second with every member
	// joined and no one saying anything, measured before the traffic: what
	// of ServerCPUSeconds is not the messages' doing (timers, NATS).
	IdleCPUPerSecond float64 `json:"server_idle_cpu_per_second"`
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	// OtherCPUSeconds is what the rest of the machine used in the window.
	OtherCPUSeconds float64 `json:"other_cpu_seconds"`
	// Latency from just before a sender's write to each member's read of
	// the message, over every delivery of the window.
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	MaxMS float64 `json:"max_ms"`
}
