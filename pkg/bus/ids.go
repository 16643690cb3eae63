package bus

import (
	"fmt"
	"strconv"
	"strings"
)

// The bus's wire formats for names: a connection id says which worker owns
// the connection, and a tick says which cluster timer fired. They are built
// and parsed here only.

// WorkerID names one worker process of the cluster: its host's node name
// and its pid.
type WorkerID struct {
	Node string `json:"node"`
	PID  int    `json:"pid"`
}

// String is "<node>-<pid>".
func (w WorkerID) String() string { return w.Node + "-" + strconv.Itoa(w.PID) }

// ConnIDPrefix is what every id of w's connections starts with, for a
// connection engine that numbers its connections after it
// (gateway.Options.IDPrefix): ConnID{Worker: w, Seq: n}.String() is the
// prefix followed by n.
func (w WorkerID) ConnIDPrefix() string { return w.String() + "-" }

// ConnID is the cluster-wide id of a worker's Seq-th connection. Its
// string, "<node>-<pid>-<seq>", is what applications and backends see; the
// node may itself contain '-'.
type ConnID struct {
	Worker WorkerID
	Seq    uint64
}

// String is "<node>-<pid>-<seq>".
func (c ConnID) String() string { return c.Worker.ConnIDPrefix() + strconv.FormatUint(c.Seq, 10) }

// ParseConnID reads a connection id made by ConnID.String. The node must
// be a valid subject token (ValidToken), as the node of a running worker
// is, and the pid positive.
func ParseConnID(s string) (ConnID, error) {
	bad := func() (ConnID, error) { return ConnID{}, fmt.Errorf("bus: %q is not a connection id", s) }
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return bad()
	}
	j := strings.LastIndexByte(s[:i], '-')
	if j <= 0 {
		return bad()
	}
	pid, err := strconv.Atoi(s[j+1 : i])
	if err != nil || pid <= 0 {
		return bad()
	}
	seq, err := strconv.ParseUint(s[i+1:], 10, 64)
	if err != nil {
		return bad()
	}
	if ValidToken(s[:j]) != nil {
		return bad()
	}
	return ConnID{Worker: WorkerID{Node: s[:j], PID: pid}, Seq: seq}, nil
}

// Tick is one firing of a cluster timer: the master's Timer-th timer, at
// its Seq-th period. It travels in HeaderTick as "<timer>:<seq>".
type Tick struct {
	Timer int
	Seq   uint64
}

// String is "<timer>:<seq>".
func (t Tick) String() string {
	return strconv.Itoa(t.Timer) + ":" + strconv.FormatUint(t.Seq, 10)
}

// ParseTick reads a tick made by Tick.String.
func ParseTick(s string) (Tick, error) {
	timer, seq, ok := strings.Cut(s, ":")
	t, err1 := strconv.Atoi(timer)
	n, err2 := strconv.ParseUint(seq, 10, 64)
	if !ok || err1 != nil || err2 != nil || t < 0 {
		return Tick{}, fmt.Errorf("bus: %q is not a tick", s)
	}
	return Tick{Timer: t, Seq: n}, nil
}
