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

// ServePresence answers presence queries with fn, on every worker. fn gets
// the query and returns the answer; it runs on one goroutine, in order.
func (c *Client) ServePresence(fn func(query []byte) []byte) (*Subscription, error) {
	sub, err := c.nc.Subscribe(c.subj.presence(), func(nm *nats.Msg) {
		if nm.Reply != "" {
			nm.Respond(fn(nm.Data))
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
// workers have answered, ctx ends or timeout passes; it returns what it
// has then (an answer from a worker that died meanwhile never comes).
func (c *Client) Gather(ctx context.Context, query []byte, expect int, timeout time.Duration) ([][]byte, error) {
	inbox := c.nc.NewRespInbox()
	ch := make(chan *nats.Msg, max(expect, 1)+16)
	sub, err := c.nc.ChanSubscribe(inbox, ch)
	if err != nil {
		return nil, fmt.Errorf("bus: presence query: %w", err)
	}
	defer sub.Unsubscribe()
	if err := c.nc.PublishRequest(c.subj.presence(), inbox, query); err != nil {
		return nil, fmt.Errorf("bus: presence query: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	var out [][]byte
	for len(out) < expect {
		select {
		case m := <-ch:
			out = append(out, m.Data)
		case <-t.C:
			return out, nil
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
	return out, nil
}
