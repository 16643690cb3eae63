package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Presence answers ("is this user online", "who is in this room") come from
// the workers themselves: a query is published to every worker and each one
// answers for its own connections. To know when every answer is in, each
// worker announces itself on <prefix>.hb every HeartbeatInterval; a worker
// not heard from for PeerTTL is taken for gone (a killed host), and a clean
// stop says so at once.

// Heartbeat timing of workers.
const (
	HeartbeatInterval = time.Second
	PeerTTL           = 3500 * time.Millisecond
)

// Role is what a heartbeat announces: a worker (presence) or a master
// (leader election). Each role has its own subject and timing.
type Role struct {
	name     string
	Interval time.Duration // between beats
	TTL      time.Duration // silence after which a peer is taken for gone
}

// The roles.
var (
	Workers = Role{name: "workers", Interval: HeartbeatInterval, TTL: PeerTTL}
	Masters = Role{name: "masters", Interval: 250 * time.Millisecond, TTL: time.Second}
)

type heartbeat struct {
	WorkerID
	Bye bool `json:"bye,omitempty"`
	// Hello is a worker's first beat: everyone answers with a beat of
	// their own, so a new worker knows its peers at once rather than after
	// a HeartbeatInterval.
	Hello bool `json:"hello,omitempty"`
}

// Peers is the set of live workers, kept from their heartbeats.
type Peers struct {
	role Role
	sub  *nats.Subscription
	mu   sync.Mutex
	seen map[WorkerID]time.Time
}

// TrackPeers starts following the workers' heartbeats. self, when not
// zero, answers other workers' hellos.
func (c *Client) TrackPeers(role Role, self WorkerID) (*Peers, error) {
	p := &Peers{role: role, seen: make(map[WorkerID]time.Time)}
	sub, err := c.nc.Subscribe(c.subj.heartbeat(role.name), func(nm *nats.Msg) {
		var hb heartbeat
		if json.Unmarshal(nm.Data, &hb) != nil {
			return
		}
		p.mu.Lock()
		if hb.Bye {
			delete(p.seen, hb.WorkerID)
		} else {
			p.seen[hb.WorkerID] = time.Now()
		}
		p.mu.Unlock()
		if hb.Hello && hb.WorkerID != self && self != (WorkerID{}) {
			c.beat(role, heartbeat{WorkerID: self})
		}
	})
	if err != nil {
		return nil, fmt.Errorf("bus: heartbeats: %w", err)
	}
	if err := c.nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("bus: heartbeats: %w", err)
	}
	p.sub = sub
	return p, nil
}

func (c *Client) beat(role Role, hb heartbeat) {
	b, _ := json.Marshal(hb)                     // plain struct: cannot fail
	c.nc.Publish(c.subj.heartbeat(role.name), b) // at most once, like every beat
}

// Live lists the peers heard from within the role's TTL.
func (p *Peers) Live() []WorkerID {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]WorkerID, 0, len(p.seen))
	for w, t := range p.seen {
		if time.Since(t) < p.role.TTL {
			out = append(out, w)
		} else {
			delete(p.seen, w)
		}
	}
	return out
}

// Stop stops tracking.
func (p *Peers) Stop() { p.sub.Unsubscribe() }

// Hello announces self to the cluster and asks every worker to announce
// itself back. It returns once the server has the announcement.
func (c *Client) Hello(role Role, self WorkerID) error {
	c.beat(role, heartbeat{WorkerID: self, Hello: true})
	if err := c.nc.Flush(); err != nil {
		return fmt.Errorf("bus: hello: %w", err)
	}
	return nil
}

// RunHeartbeat announces self every role.Interval until ctx ends, then
// says goodbye so that peers stop counting it at once.
func (c *Client) RunHeartbeat(ctx context.Context, role Role, self WorkerID) {
	t := time.NewTicker(role.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.beat(role, heartbeat{WorkerID: self, Bye: true})
			c.nc.Flush()
			return
		case <-t.C:
			c.beat(role, heartbeat{WorkerID: self})
		}
	}
}

// headerMore marks every piece of a presence answer but its last: an answer
// may be larger than one NATS message (issue 10: a member list over the
// server's 1 MB max_payload was dropped silently), so a worker sends it in
// pieces and the asker counts an answer once its last piece is in. Pieces
// of one answer come from one connection on one subject, so NATS keeps
// them in order.
const headerMore = "Wsfleet-More"

// pieceSlack is what a piece leaves of the server's max_payload for its
// headers.
const pieceSlack = 1 << 10

// ServePresence answers presence queries with fn, on every worker. fn gets
// the query and the most bytes one piece of the answer may have, and
// returns the answer in pieces of at most that size (at least one piece);
// a piece over it is logged and left out. fn runs on one goroutine, in
// order.
func (c *Client) ServePresence(fn func(query []byte, pieceMax int) [][]byte) (*Subscription, error) {
	sub, err := c.nc.Subscribe(c.subj.presence(), func(nm *nats.Msg) {
		if nm.Reply == "" {
			return
		}
		pieces := fn(nm.Data, int(c.nc.MaxPayload())-pieceSlack)
		if len(pieces) == 0 {
			pieces = [][]byte{nil}
		}
		for i, p := range pieces {
			m := &nats.Msg{Subject: nm.Reply, Data: p}
			if i < len(pieces)-1 {
				m.Header = nats.Header{headerMore: {"1"}}
			}
			if err := c.nc.PublishMsg(m); err != nil {
				c.log.Warn("presence answer", "piece", i, "bytes", len(p), "err", err)
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("bus: presence: %w", err)
	}
	if err := c.nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("bus: presence: %w", err)
	}
	return &Subscription{sub: sub}, nil
}

// Gather publishes a presence query and collects answers until expect
// workers have answered in full, ctx ends or timeout passes; it returns
// every piece it has then (an answer from a worker that died meanwhile
// never comes).
func (c *Client) Gather(ctx context.Context, query []byte, expect int, timeout time.Duration) ([][]byte, error) {
	inbox := c.nc.NewRespInbox()
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("bus: presence query: %w", err)
	}
	defer sub.Unsubscribe()
	// The answers are the workers' own state, read at once as they come:
	// no limit on their count, and the client library's 64 MiB default on
	// bytes raised for the pieces of a very large room.
	if err := sub.SetPendingLimits(-1, 1<<30); err != nil {
		return nil, fmt.Errorf("bus: presence query: %w", err)
	}
	if err := c.nc.PublishRequest(c.subj.presence(), inbox, query); err != nil {
		return nil, fmt.Errorf("bus: presence query: %w", err)
	}
	wait, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var out [][]byte
	for done := 0; done < expect; {
		m, err := sub.NextMsgWithContext(wait)
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			return out, nil // the timeout: what came is the answer
		}
		out = append(out, m.Data)
		if m.Header.Get(headerMore) == "" {
			done++
		}
	}
	return out, nil
}
