package hub

import (
	"context"
	"fmt"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// Querier asks the cluster's workers presence questions from outside any
// worker: a master's HTTP API answers "is this user online" and "who is in
// this room" with it. It follows the workers' heartbeats, as a Hub does,
// to know how many answers to wait for, but it announces nothing: it is not
// a worker, and no query waits for it.
type Querier struct {
	bus     *bus.Client
	peers   *bus.Peers
	timeout time.Duration
	started time.Time
}

// NewQuerier starts following the workers' heartbeats on b. timeout
// bounds each query (default 1s). Stop ends it.
func NewQuerier(b *bus.Client, timeout time.Duration) (*Querier, error) {
	if timeout <= 0 {
		timeout = time.Second
	}
	peers, err := b.TrackPeers(bus.Workers, bus.WorkerID{})
	if err != nil {
		return nil, fmt.Errorf("hub: querier: %w", err)
	}
	return &Querier{bus: b, peers: peers, timeout: timeout, started: time.Now()}, nil
}

// Stop stops following the heartbeats.
func (q *Querier) Stop() { q.peers.Stop() }

// ask waits, when the querier has just started, for one heartbeat interval
// (every live worker announces itself in that time, so the count of answers
// to expect is complete), then asks.
func (q *Querier) ask(ctx context.Context, qu query) (answer, error) {
	if wait := bus.HeartbeatInterval + 100*time.Millisecond - time.Since(q.started); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return answer{}, fmt.Errorf("hub: presence: %w", ctx.Err())
		case <-t.C:
		}
	}
	return askWorkers(ctx, q.bus, len(q.peers.Live()), q.timeout, qu)
}

// ConnectionCount is the number of connections in the cluster.
func (q *Querier) ConnectionCount(ctx context.Context) (int, error) {
	a, err := q.ask(ctx, query{Kind: "count"})
	return a.Count, err
}

// RoomCount is the number of connections in room.
func (q *Querier) RoomCount(ctx context.Context, room string) (int, error) {
	a, err := q.ask(ctx, query{Kind: "room", Name: room})
	return a.Count, err
}

// UserConns lists the ids of the connections bound to uid, ordered (none:
// offline).
func (q *Querier) UserConns(ctx context.Context, uid string) ([]string, error) {
	a, err := q.ask(ctx, query{Kind: "user", Name: uid, List: true})
	out := make([]string, len(a.Members))
	for i, m := range a.Members {
		out[i] = m.ConnID
	}
	return out, err
}

// RoomMembers lists the connections in room with their users, ordered by
// connection id.
func (q *Querier) RoomMembers(ctx context.Context, room string) ([]app.Member, error) {
	a, err := q.ask(ctx, query{Kind: "room", Name: room, List: true})
	out := make([]app.Member, len(a.Members))
	for i, m := range a.Members {
		out[i] = app.Member{ConnID: m.ConnID, UID: m.UID}
	}
	return out, err
}
