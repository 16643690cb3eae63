package master

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/internal/version"
)

// statusTimeout is how long a worker has to answer before it shows as busy.
const statusTimeout = time.Second

// Status is the master's answer to ctl.OpStatus, printed by `master status`.
type Status struct {
	Master  MasterStatus   `json:"master"`
	Workers []WorkerStatus `json:"workers"`
	Summary Summary        `json:"summary"`
	// Unanswered names the workers that did not answer in time.
	Unanswered []Unanswered `json:"unanswered,omitempty"`
}

// MasterStatus describes the master.
type MasterStatus struct {
	PID           int       `json:"pid"`
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Listen        string    `json:"listen"`
	App           string    `json:"app"`
	NATSURL       string    `json:"nats_url"`
	EmbeddedNATS  bool      `json:"embedded_nats"`
	ClusterName   string    `json:"cluster_name"`
	Count         int       `json:"count"`
	Node          string    `json:"node"`
	RSSBytes      int64     `json:"rss_bytes"`
	// Build is the master's version and Go version.
	version.Build
}

// WorkerStatus describes one worker process.
type WorkerStatus struct {
	Slot          int     `json:"slot"`
	PID           int     `json:"pid"`
	State         string  `json:"state"`
	RSSBytes      int64   `json:"rss_bytes"`
	Connections   int     `json:"connections"`
	MessagesIn    uint64  `json:"messages_in"`
	MessagesOut   uint64  `json:"messages_out"`
	SendFailures  uint64  `json:"send_failures"`
	Restarts      int     `json:"restarts"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	BusConnected  bool    `json:"bus_connected"`
	// Refused counts the clients the worker's limits turned away.
	Refused ctl.Refusals `json:"refused"`
	// Cores and MemoryLimit are the worker's share of the host: the cores
	// it may use at once, its Go memory limit in bytes (0: none).
	Cores       int   `json:"cores"`
	MemoryLimit int64 `json:"memory_limit"`
	// Procs is the worker's GOMAXPROCS (see ctl.WorkerStatus.Procs).
	Procs int `json:"procs"`
	// Build is the build the worker runs, which after a reload may differ
	// from the master's ("" when it did not answer).
	Build string `json:"build,omitempty"`
}

// Summary adds up the workers.
type Summary struct {
	Workers      int    `json:"workers"`
	Connections  int    `json:"connections"`
	MessagesIn   uint64 `json:"messages_in"`
	MessagesOut  uint64 `json:"messages_out"`
	SendFailures uint64 `json:"send_failures"`
	RSSBytes     int64  `json:"rss_bytes"`
	// Refused adds up the workers' refusals.
	Refused ctl.Refusals `json:"refused"`
}

// ConnectionInfo is one line of `master connections`.
type ConnectionInfo struct {
	ctl.ConnInfo         // as the worker answered, with the bound user, if any
	WorkerPID    int     `json:"worker_pid"`
	WorkerSlot   int     `json:"worker_slot"`
	AgeSeconds   float64 `json:"age_seconds"`
}

// Connections is the master's answer to ctl.OpConnections: streamed to the
// command line as the Connections items, then the Unanswered in the
// stream's result (ConnectionsResult).
type Connections struct {
	Connections []ConnectionInfo `json:"connections"`
	Unanswered  []Unanswered     `json:"unanswered,omitempty"`
}

// ConnectionsResult ends the ctl.OpConnections stream.
type ConnectionsResult struct {
	Unanswered []Unanswered `json:"unanswered,omitempty"`
}

// Unanswered names a worker that did not answer a query in time: a query
// that leaves one out says so, and the command line exits 1.
type Unanswered struct {
	Slot  int    `json:"slot"`
	PID   int    `json:"pid"`
	Error string `json:"error"`
}

func (u Unanswered) String() string {
	return fmt.Sprintf("worker %d (pid %d) did not answer: %s", u.Slot, u.PID, u.Error)
}

// answerIdle is how long a worker may be silent in the middle of its
// ctl.OpConnections answer, which for a busy worker is long, before it counts
// as not answering.
const answerIdle = 2 * statusTimeout

// Status asks every worker for its numbers, concurrently; a worker that does
// not answer within a second shows as busy and is named in Unanswered.
func (m *Master) Status(ctx context.Context) Status {
	refs := m.children()
	ws := make([]WorkerStatus, len(refs))
	missing := make([]*Unanswered, len(refs))
	var wg sync.WaitGroup
	for i, r := range refs {
		wg.Go(func() { ws[i], missing[i] = m.workerStatus(ctx, r) })
	}
	wg.Wait()
	st := Status{
		Master: MasterStatus{
			PID: os.Getpid(), StartedAt: m.started, UptimeSeconds: time.Since(m.started).Seconds(),
			Listen: m.addr, App: m.opts.AppName, NATSURL: m.natsURL, EmbeddedNATS: m.nats != nil,
			ClusterName: m.opts.ClusterName, Count: m.opts.Count, Node: m.opts.Node,
			RSSBytes: rss(os.Getpid()), Build: version.Get(),
		},
		Workers: ws,
	}
	for i, w := range ws {
		if missing[i] != nil {
			st.Unanswered = append(st.Unanswered, *missing[i])
		}
		st.Summary.Workers++
		st.Summary.Connections += w.Connections
		st.Summary.MessagesIn += w.MessagesIn
		st.Summary.MessagesOut += w.MessagesOut
		st.Summary.SendFailures += w.SendFailures
		st.Summary.RSSBytes += w.RSSBytes
		st.Summary.Refused.Add(w.Refused)
	}
	return st
}

func (m *Master) workerStatus(ctx context.Context, r childRef) (WorkerStatus, *Unanswered) {
	w := WorkerStatus{
		Slot: r.slot, PID: r.pid, State: r.state, Restarts: r.restarts,
		UptimeSeconds: time.Since(r.ready).Seconds(),
	}
	if r.proc == nil {
		return w, nil // down, or its replacement still starting
	}
	w.RSSBytes = rss(r.pid)
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	var ans ctl.WorkerStatus
	if err := r.proc.Call(ctx, ctl.OpStatus, nil, &ans); err != nil {
		if exited(r.proc) || errors.Is(err, ctl.ErrClosed) {
			// ErrClosed: its control connection ended, as it does when a
			// worker exits; only silence or an error answer is "missing".
			w.State = stateDown // it exited meanwhile: nothing to miss
			return w, nil
		}
		if w.State == stateRunning {
			w.State = stateBusy
		}
		return w, &Unanswered{Slot: r.slot, PID: r.pid, Error: err.Error()}
	}
	if ans.Draining {
		w.State = stateStopping
	}
	w.Connections = ans.Connections
	w.MessagesIn, w.MessagesOut, w.SendFailures = ans.MessagesIn, ans.MessagesOut, ans.SendFailures
	w.BusConnected = ans.BusConnected
	w.Refused = ans.Refused
	w.Cores, w.MemoryLimit, w.Procs, w.Build = ans.Cores, ans.MemoryLimit, ans.Procs, ans.Build
	return w, nil
}

func exited(p process) bool {
	select {
	case <-p.Exited():
		return true
	default:
		return false
	}
}

// Connections lists every connection of every worker, each worker's answer
// read as a stream (of any size), and names the workers that did not
// answer.
func (m *Master) Connections(ctx context.Context) Connections {
	refs := m.children()
	lists := make([][]ConnectionInfo, len(refs))
	missing := make([]*Unanswered, len(refs))
	var wg sync.WaitGroup
	now := time.Now()
	for i, r := range refs {
		if r.proc == nil {
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			idle := time.AfterFunc(answerIdle, cancel)
			defer idle.Stop()
			err := r.proc.CallStream(ctx, ctl.OpConnections, nil, func(raw json.RawMessage) error {
				idle.Reset(answerIdle)
				var ci ConnectionInfo // the worker's ctl.ConnInfo
				if err := json.Unmarshal(raw, &ci); err != nil {
					return err
				}
				ci.WorkerPID, ci.WorkerSlot = r.pid, r.slot
				ci.AgeSeconds = now.Sub(ci.Created).Seconds()
				lists[i] = append(lists[i], ci)
				return nil
			}, nil)
			if err != nil && !exited(r.proc) && !errors.Is(err, ctl.ErrClosed) {
				if errors.Is(err, context.Canceled) {
					err = fmt.Errorf("silent for %s in its answer", answerIdle)
				}
				lists[i] = nil
				missing[i] = &Unanswered{Slot: r.slot, PID: r.pid, Error: err.Error()}
				m.log.Warn("connections: worker did not answer", "worker", r.slot, "pid", r.pid, "err", err)
			}
		})
	}
	wg.Wait()
	out := Connections{Connections: []ConnectionInfo{}}
	for i, l := range lists {
		out.Connections = append(out.Connections, l...)
		if missing[i] != nil {
			out.Unanswered = append(out.Unanswered, *missing[i])
		}
	}
	return out
}

// rss reads a process's resident set size from /proc, or 0.
func rss(pid int) int64 {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
