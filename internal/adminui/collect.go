package adminui

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Host is one master's answer to the cluster query, as the page shows it.
type Host struct {
	Node          string   `json:"node"`
	PID           int      `json:"pid"`
	Version       string   `json:"version"`
	UptimeSeconds float64  `json:"uptime_seconds"`
	Leader        bool     `json:"leader"`
	Workers       int      `json:"workers"`
	Count         int      `json:"count"`
	Connections   int      `json:"connections"`
	WorkerRows    []Worker `json:"worker_rows"`
	// Closed and HandshakeFailures are the host's counters since its
	// master started (connections closed by code, upgrades refused or
	// failed by reason), as on /metrics; the charts show their rates.
	Closed            map[string]uint64 `json:"-"`
	HandshakeFailures map[string]uint64 `json:"-"`
	// Gone is set by the page's collector on a host that stopped
	// answering; it is shown for goneFor, then dropped.
	Gone bool `json:"gone"`
}

// Worker is one worker of a host.
type Worker struct {
	PID         int     `json:"pid"`
	State       string  `json:"state"`
	Connections int     `json:"connections"`
	MessagesIn  uint64  `json:"messages_in"`
	MessagesOut uint64  `json:"messages_out"`
	RSSBytes    int64   `json:"rss_bytes"`
	Restarts    int     `json:"restarts"`
	InPerSec    float64 `json:"in_per_sec"`  // derived from MessagesIn's deltas
	OutPerSec   float64 `json:"out_per_sec"` // derived from MessagesOut's deltas
}

// Source asks every master of the cluster for its Host.
type Source func(ctx context.Context) ([]Host, error)

// Room is one of the rooms with the most members.
type Room struct {
	Room  string `json:"room"`
	Count int    `json:"count"`
}

// RoomSource asks the cluster's workers for their largest rooms.
type RoomSource func(ctx context.Context) ([]Room, error)

// seriesLen is the charts' length: 15 minutes at one point a second.
const seriesLen = 900

// goneFor is how long a host that stopped answering is still shown, gone.
const goneFor = 5 * time.Minute

// Point is one second of the cluster, for the charts.
type Point struct {
	T           int64   `json:"t"` // unix seconds
	Connections int     `json:"c"`
	InPerSec    float64 `json:"i"`
	OutPerSec   float64 `json:"o"`
	// FailPerSec is handshake failures a second; ClosedPerSec closes a
	// second by code.
	FailPerSec   float64            `json:"f"`
	ClosedPerSec map[string]float64 `json:"x,omitempty"`
}

// Snapshot is what /admin/live pushes each second.
type Snapshot struct {
	Time   time.Time `json:"time"`
	Hosts  []Host    `json:"hosts"`
	Series []Point   `json:"series"` // oldest first, at most seriesLen
	Rooms  []Room    `json:"rooms"`  // largest first, bounded by the RoomSource
	Error  string    `json:"error,omitempty"`
}

type counters struct {
	in, out uint64
	at      time.Time
}

// collector asks the Source once a second and keeps what the page shows:
// the hosts (those gone marked), the workers' rates and the charts' ring.
type collector struct {
	src   Source
	rooms RoomSource // nil: none asked
	now   func() time.Time

	mu     sync.Mutex
	prev   map[int]counters        // by worker pid
	hprev  map[string]hostCounters // by node and master pid
	seen   map[string]seenHost
	ring   [seriesLen]Point
	n, pos int
	last   []byte // the latest snapshot, JSON
	seq    uint64
	wake   chan struct{} // closed and replaced on each new snapshot
}

type hostCounters struct {
	closed, failed map[string]uint64
	at             time.Time
}

type seenHost struct {
	h    Host
	last time.Time
}

func newCollector(src Source, rooms RoomSource, now func() time.Time) *collector {
	return &collector{src: src, rooms: rooms, now: now, prev: map[int]counters{}, hprev: map[string]hostCounters{}, seen: map[string]seenHost{}, wake: make(chan struct{})}
}

// run collects until ctx ends, one round a second (a round lasts as long
// as the masters take to answer).
func (c *collector) run(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		c.round(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round asks the masters once and records the answer.
func (c *collector) round(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	hosts, err := c.src(ctx)
	rooms := []Room{}
	if c.rooms != nil {
		if r, rerr := c.rooms(ctx); rerr == nil && r != nil {
			rooms = r
		}
	}
	cancel()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	snap := Snapshot{Time: now, Hosts: []Host{}, Rooms: rooms}
	if err != nil {
		snap.Error = err.Error()
	}
	p := Point{T: now.Unix()}
	prev := c.prev
	c.prev = map[int]counters{}
	answered := map[string]bool{}
	hprev := c.hprev
	c.hprev = map[string]hostCounters{}
	for _, h := range hosts {
		hk := h.Node + "/" + strconv.Itoa(h.PID)
		c.hprev[hk] = hostCounters{h.Closed, h.HandshakeFailures, now}
		if pc, ok := hprev[hk]; ok {
			if dt := now.Sub(pc.at).Seconds(); dt > 0 {
				for _, d := range deltas(pc.failed, h.HandshakeFailures) {
					p.FailPerSec += float64(d) / dt
				}
				for code, d := range deltas(pc.closed, h.Closed) {
					if d > 0 {
						if p.ClosedPerSec == nil {
							p.ClosedPerSec = map[string]float64{}
						}
						p.ClosedPerSec[code] += float64(d) / dt
					}
				}
			}
		}
		for i := range h.WorkerRows {
			w := &h.WorkerRows[i]
			c.prev[w.PID] = counters{w.MessagesIn, w.MessagesOut, now}
			if pc, ok := prev[w.PID]; ok && w.MessagesIn >= pc.in && w.MessagesOut >= pc.out {
				if dt := now.Sub(pc.at).Seconds(); dt > 0 {
					w.InPerSec = float64(w.MessagesIn-pc.in) / dt
					w.OutPerSec = float64(w.MessagesOut-pc.out) / dt
				}
			}
			p.InPerSec += w.InPerSec
			p.OutPerSec += w.OutPerSec
		}
		p.Connections += h.Connections
		key := h.Node
		answered[key] = true
		c.seen[key] = seenHost{h: h, last: now}
	}
	for key, s := range c.seen {
		if answered[key] || err != nil {
			if !answered[key] {
				snap.Hosts = append(snap.Hosts, s.h) // no answer at all: keep what we knew
			}
			continue
		}
		if now.Sub(s.last) > goneFor {
			delete(c.seen, key)
			continue
		}
		g := s.h
		g.Gone, g.Connections, g.Workers, g.WorkerRows = true, 0, 0, nil
		snap.Hosts = append(snap.Hosts, g)
	}
	snap.Hosts = append(snap.Hosts, hosts...)
	slices.SortFunc(snap.Hosts, func(a, b Host) int {
		switch {
		case a.Node < b.Node:
			return -1
		case a.Node > b.Node:
			return 1
		}
		return 0
	})
	if err == nil {
		c.ring[c.pos] = p
		c.pos = (c.pos + 1) % seriesLen
		c.n = min(c.n+1, seriesLen)
	}
	snap.Series = make([]Point, 0, c.n)
	for i := range c.n {
		snap.Series = append(snap.Series, c.ring[(c.pos-c.n+i+seriesLen)%seriesLen])
	}
	c.last, _ = json.Marshal(snap) // plain structs: cannot fail
	c.seq++
	close(c.wake)
	c.wake = make(chan struct{})
}

// deltas is how much each counter of cur grew since prev (a counter that
// went back, which they do not, counts 0). Close codes are a handful of
// names (1000-1015, 4xxx, other), failure reasons too.
func deltas(prev, cur map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, len(cur))
	for k, n := range cur {
		if n >= prev[k] {
			out[k] = n - prev[k]
		}
	}
	return out
}

// latest is the latest snapshot and a channel closed when a newer one
// comes.
func (c *collector) latest() ([]byte, uint64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last, c.seq, c.wake
}
