package master

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/internal/worker"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// statusTimeout is how long a worker has to answer before it shows as busy.
const statusTimeout = time.Second

// Status is the answer to "status", printed by `master status`.
type Status struct {
	Master  MasterStatus   `json:"master"`
	Workers []WorkerStatus `json:"workers"`
	Summary Summary        `json:"summary"`
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
}

// Summary adds up the workers.
type Summary struct {
	Workers      int    `json:"workers"`
	Connections  int    `json:"connections"`
	MessagesIn   uint64 `json:"messages_in"`
	MessagesOut  uint64 `json:"messages_out"`
	SendFailures uint64 `json:"send_failures"`
	RSSBytes     int64  `json:"rss_bytes"`
}

// ConnectionInfo is one line of `master connections`.
type ConnectionInfo struct {
	gateway.ConnInfo
	User       string  `json:"user,omitempty"` // the bound user, if any
	WorkerPID  int     `json:"worker_pid"`
	WorkerSlot int     `json:"worker_slot"`
	AgeSeconds float64 `json:"age_seconds"`
}

// Connections is the answer to "connections".
type Connections struct {
	Connections []ConnectionInfo `json:"connections"`
}

type childRef struct {
	c        *child
	restarts int
}

// children lists every live worker, current ones first.
func (m *Master) children() []childRef {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []childRef
	for _, s := range m.slots {
		if s.cur != nil {
			out = append(out, childRef{s.cur, s.restarts})
		}
	}
	for _, s := range m.slots {
		for _, c := range s.old {
			out = append(out, childRef{c, s.restarts})
		}
	}
	return out
}

// Status asks every worker for its numbers, concurrently; a worker that does
// not answer within a second shows as busy.
func (m *Master) Status(ctx context.Context) Status {
	refs := m.children()
	ws := make([]WorkerStatus, len(refs))
	var wg sync.WaitGroup
	for i, r := range refs {
		wg.Go(func() { ws[i] = m.workerStatus(ctx, r) })
	}
	wg.Wait()
	st := Status{
		Master: MasterStatus{
			PID: os.Getpid(), StartedAt: m.started, UptimeSeconds: time.Since(m.started).Seconds(),
			Listen: m.addr, App: m.opts.App, NATSURL: m.natsURL, EmbeddedNATS: m.nats != nil,
			ClusterName: m.opts.ClusterName, Count: m.opts.Count, Node: m.opts.Node,
			RSSBytes: rss(os.Getpid()),
		},
		Workers: ws,
	}
	for _, w := range ws {
		st.Summary.Workers++
		st.Summary.Connections += w.Connections
		st.Summary.MessagesIn += w.MessagesIn
		st.Summary.MessagesOut += w.MessagesOut
		st.Summary.SendFailures += w.SendFailures
		st.Summary.RSSBytes += w.RSSBytes
	}
	return st
}

func (m *Master) workerStatus(ctx context.Context, r childRef) WorkerStatus {
	c := r.c
	w := WorkerStatus{
		Slot: c.slot, PID: c.pid, State: c.state.Load().(string), Restarts: r.restarts,
		UptimeSeconds: time.Since(c.started).Seconds(), RSSBytes: rss(c.pid),
	}
	if w.State == stateDown {
		return w
	}
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	var ans worker.Status
	if err := c.ctl.Call(ctx, "status", nil, &ans); err != nil {
		if w.State == stateRunning {
			w.State = stateBusy
		}
		return w
	}
	if ans.Draining {
		w.State = stateStopping
	}
	w.Connections = ans.Connections
	w.MessagesIn, w.MessagesOut, w.SendFailures = ans.MessagesIn, ans.MessagesOut, ans.SendFailures
	w.BusConnected = ans.BusConnected
	return w
}

// Connections lists every connection of every worker.
func (m *Master) Connections(ctx context.Context) (Connections, error) {
	refs := m.children()
	lists := make([][]ConnectionInfo, len(refs))
	var wg sync.WaitGroup
	now := time.Now()
	for i, r := range refs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, 5*statusTimeout)
			defer cancel()
			var cs []ConnectionInfo // the worker's ConnInfo: gateway.ConnInfo and User
			if err := r.c.ctl.Call(ctx, "connections", nil, &cs); err != nil {
				m.log.Warn("connections: worker did not answer", "worker", r.c.slot, "pid", r.c.pid, "err", err)
				return
			}
			for _, ci := range cs {
				ci.WorkerPID, ci.WorkerSlot = r.c.pid, r.c.slot
				ci.AgeSeconds = now.Sub(ci.Created).Seconds()
				lists[i] = append(lists[i], ci)
			}
		})
	}
	wg.Wait()
	out := Connections{Connections: []ConnectionInfo{}}
	for _, l := range lists {
		out.Connections = append(out.Connections, l...)
	}
	return out, nil
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
