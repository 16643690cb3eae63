package record

// Reload is a `master reload` run while every connection receives the push
// app's ticks (issue 15, hand-off): the reload's own time, and what the
// connections saw of it. The ticks' tally (missed, doubled) is the Push
// that holds it.
type Reload struct {
	Command string `json:"command"`
	// AfterTick is how many ticks of the window had arrived (on the
	// benchmark's NATS subscriber) when the command started.
	AfterTick int `json:"after_tick"`
	// Seconds is the command's run, from its start to its exit.
	Seconds  float64 `json:"seconds"`
	ExitCode int     `json:"exit_code"`
	Output   string  `json:"output,omitempty"` // its stdout and stderr, trimmed
	// From the master's log (loadgen -reload-log), its lines "reload:
	// connections handed off", one per worker: the connections moved and
	// kept (left to drain with 1012), the workers, and the longest of their
	// hand-offs.
	HandedOff    int     `json:"handed_off,omitempty"`
	Kept         int     `json:"kept,omitempty"`
	HandoffSlots int     `json:"handoff_slots,omitempty"`
	HandoffMaxMS float64 `json:"handoff_max_ms,omitempty"`
	// Closed is the connections lost during the run (a hand-off must lose
	// none).
	Closed int `json:"closed"`
	// The longest gap between two consecutive messages on a connection,
	// over the window: the largest of any connection, and the median and
	// p99 of the per-connection longest gaps. With nothing lost, a gap is
	// about the tick interval; the excess is what the reload cost.
	MaxGapMS float64 `json:"max_gap_ms"`
	P50GapMS float64 `json:"p50_gap_ms"`
	P99GapMS float64 `json:"p99_gap_ms"`
}
