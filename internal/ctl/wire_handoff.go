package ctl

// The hand-off of a reload (issue 15): the master pairs each old worker
// with its slot's new one. It asks the new worker to listen (OpHandoffListen)
// on an abstract Unix socket of a random name that only the old worker's
// pid may connect to (SO_PEERCRED), then asks the old worker to hand its
// connections over there (OpHandoff). The old worker answers when it is
// done, with what moved and what stayed (and then drains with 1012).

// OpHandoffListen asks a new worker to receive connections; args
// HandoffListen, answer "listening".
const OpHandoffListen = "handoff-listen"

// OpHandoff asks an old worker to hand its connections to a new one; args
// HandoffRequest, answer HandoffResult.
const OpHandoff = "handoff"

// HandoffListen names the socket a new worker listens on and the only
// process that may connect.
type HandoffListen struct {
	// Name is an abstract Unix socket name (without the leading NUL).
	Name string `json:"name"`
	// From is the old worker's pid; any other peer is refused.
	From int `json:"from"`
	// TimeoutMillis bounds the whole hand-off on the receiving side.
	TimeoutMillis int64 `json:"timeout_ms"`
}

// HandoffRequest tells an old worker where to hand its connections.
type HandoffRequest struct {
	Name          string `json:"name"`
	TimeoutMillis int64  `json:"timeout_ms"`
}

// HandoffResult is what a hand-off moved.
type HandoffResult struct {
	// Moved connections are the new worker's now; Kept stayed here (TLS,
	// closing, busy past the deadline, or refused by the new worker) and
	// drain with 1012.
	Moved int `json:"moved"`
	Kept  int `json:"kept"`
	// Error says why the hand-off stopped early ("" when it did not).
	Error string `json:"error,omitempty"`
}
