package master

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/wsfleet/wsfleet/internal/version"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// `master status -cluster`: the command line asks its master
// (ctl.OpClusterStatus), which asks every master of the cluster over the
// bus (bus.GatherMasters) and returns their answers, one HostStatus each.

// clusterWindow bounds the gathering of the masters' answers: it ends
// earlier once every master heard on the heartbeats has answered. An
// answer takes a master one round of its workers' status (statusTimeout at
// most), so the window leaves room for one.
const clusterWindow = statusTimeout + 500*time.Millisecond

// ClusterStatus is the answer to ctl.OpClusterStatus: one line per host
// that answered within the window, sorted by node.
type ClusterStatus struct {
	Hosts []HostStatus `json:"hosts"`
	// Expected counts the masters heard on the heartbeats when the query
	// went out (a host that just died is among them until its heartbeat
	// times out, 1s).
	Expected int `json:"expected"`
}

// HostStatus is one master's answer.
type HostStatus struct {
	Node          string    `json:"node"`
	PID           int       `json:"pid"`
	Version       string    `json:"version,omitempty"` // the build, when known
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	Listen        string    `json:"listen"`
	Workers       int       `json:"workers"` // running
	Count         int       `json:"count"`   // -count
	Connections   int       `json:"connections"`
	Leader        bool      `json:"leader"` // leads the cluster's timers
	EmbeddedNATS  bool      `json:"embedded_nats"`
	// Routes are the embedded NATS's routes to the other hosts (nil with
	// an external NATS).
	Routes *bus.RouteStats `json:"routes,omitempty"`
	// Unanswered counts the host's workers that did not answer its status.
	Unanswered int `json:"unanswered,omitempty"`
	// WorkerRows are the host's workers, when the query asked for them
	// (queryWithWorkers: the admin page).
	WorkerRows []WorkerStatus `json:"worker_rows,omitempty"`
	// Closed and HandshakeFailures add up the host's counters of /metrics
	// (closes by code, handshake failures by reason), with WorkerRows.
	Closed            map[string]uint64 `json:"closed,omitempty"`
	HandshakeFailures map[string]uint64 `json:"handshake_failures,omitempty"`
}

// maxHostAnswer bounds one master's answer as read: a HostStatus is a few
// hundred bytes.
const maxHostAnswer = 64 << 10

// serveClusterStatus answers the masters' query; Start calls it once the
// workers and the leadership run.
func (m *Master) serveClusterStatus() error {
	_, err := m.bus.ServeMasters(func(q []byte) []byte {
		ctx, cancel := context.WithTimeout(context.Background(), statusTimeout)
		defer cancel()
		if b, ok := m.answerAdminQuery(ctx, q); ok {
			return b
		}
		b, _ := json.Marshal(m.hostStatus(ctx, string(q) == queryWithWorkers)) // plain struct: cannot fail
		return b
	})
	if err != nil {
		return fmt.Errorf("master: %w", err)
	}
	m.clusterUp.Store(true) // after m.lead is set: ClusterStatus may read it
	return nil              // ends with the bus connection, in teardown
}

// hostStatus is this master's line of the cluster status.
func (m *Master) hostStatus(ctx context.Context, withWorkers bool) HostStatus {
	st := m.Status(ctx)
	h := HostStatus{
		Node: m.opts.Node, PID: os.Getpid(), Version: version.Get().Version,
		StartedAt: m.started, UptimeSeconds: time.Since(m.started).Seconds(), Listen: m.addr,
		Count: m.opts.Count, Connections: st.Summary.Connections, Leader: m.lead.leads(),
		EmbeddedNATS: m.nats != nil, Unanswered: len(st.Unanswered),
	}
	for _, w := range st.Workers {
		if w.State == stateRunning {
			h.Workers++
		}
	}
	if withWorkers {
		h.WorkerRows = st.Workers
		var all figures
		for _, sf := range m.scrapeWorkers(ctx).slots {
			all.add(sf.f)
		}
		h.Closed, h.HandshakeFailures = all.closed, all.failed
	}
	if m.nats != nil {
		if rs, err := m.nats.Routes(); err == nil {
			h.Routes = &rs
		} else {
			m.log.Warn("cluster status: routes", "err", err)
		}
	}
	return h
}

// ClusterStatus asks every master of the cluster, this one included, for
// its HostStatus.
func (m *Master) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	return m.gatherHosts(ctx, "status", maxHostAnswer)
}

// gatherHosts asks every master query and reads the answers, each of at
// most maxAnswer bytes, as HostStatus.
func (m *Master) gatherHosts(ctx context.Context, query string, maxAnswer int) (ClusterStatus, error) {
	if !m.clusterUp.Load() {
		return ClusterStatus{}, errStarting // the control socket opens before the bus query is served
	}
	expect := len(m.lead.peers.Live())
	answers, err := m.bus.GatherMasters(ctx, []byte(query), expect, clusterWindow)
	if err != nil {
		return ClusterStatus{}, fmt.Errorf("master: cluster status: %w", err)
	}
	cs := ClusterStatus{Hosts: []HostStatus{}, Expected: expect}
	for _, a := range answers {
		var h HostStatus
		if len(a) > maxAnswer || json.Unmarshal(a, &h) != nil {
			m.log.Warn("cluster status: an answer that is not a host's status", "bytes", len(a))
			continue
		}
		cs.Hosts = append(cs.Hosts, h)
	}
	slices.SortFunc(cs.Hosts, func(a, b HostStatus) int {
		return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.PID, b.PID))
	})
	return cs, nil
}
