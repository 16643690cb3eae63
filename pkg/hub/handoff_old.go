package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// The worker handing its connections off (stream.go): Track, then per
// batch Settle and WaitOffsets once the receiver prepared, then Freeze
// each connection.

// ErrInexact: a connection's positions are not known exactly (a stream
// saw more publishers than MaxCutPublishers, or its owner's subject is not
// this worker's): it cannot move without loss or doubling.
var ErrInexact = errors.New("hub: hand-off positions not known")

// DeliverAll delivers a broadcast through the cluster's stream: send
// writes it to the worker's connections but those skip refuses (nil: to
// all). Broadcasts are delivered one at a time.
func (h *Hub) DeliverAll(m bus.Message, send func(skip func(*gateway.Conn) bool)) {
	s := &h.all
	s.mu.Lock()
	defer s.mu.Unlock()
	h.beforeLocked(s, m, "")
	defer h.afterLocked(s, m)
	receiving := h.receiving.Load()
	if s.cuts == nil && !receiving {
		send(nil)
		return
	}
	// s.cuts does not change while s.mu is held: the fan-out's goroutines
	// read it as it is.
	send(func(c *gateway.Conn) bool { return h.skipLocked(s, c, m, receiving) })
}

// Track starts (or ends) recording, per stream, the last sequence each
// publisher had delivered: a hand-off's positions.
func (h *Hub) Track(on bool) {
	if !on {
		h.tracking.Store(false)
	}
	for _, s := range h.streams() {
		s.mu.Lock()
		s.pos, s.posOver = nil, false
		s.mu.Unlock()
	}
	if on {
		h.tracking.Store(true)
	}
}

// streams lists every stream of the worker.
func (h *Hub) streams() []*stream {
	out := []*stream{&h.all}
	h.adoptMu.Lock()
	for _, s := range h.direct {
		out = append(out, s)
	}
	h.adoptMu.Unlock()
	h.mu.RLock()
	for _, groups := range []map[string]*group{h.rooms, h.users} {
		for _, g := range groups {
			out = append(out, &g.st)
		}
	}
	h.mu.RUnlock()
	return out
}

// Settle returns once every message the NATS server had sent this worker
// when it was called went through its handler (bus.Client.Settle).
func (h *Hub) Settle(ctx context.Context) error { return h.opts.Bus.Settle(ctx) }

// WaitOffsets waits until each followed group named in floors (by its
// stream name) delivered its kept messages up to the offset given, or ctx
// ends. It returns the names that did not get there.
func (h *Hub) WaitOffsets(ctx context.Context, floors map[string]uint64) map[string]bool {
	late := make(map[string]bool)
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for name, floor := range floors {
		g := h.groupOf(name)
		for g != nil && ctx.Err() == nil && !g.reached(floor) {
			select {
			case <-ctx.Done():
			case <-t.C:
			}
		}
		if g == nil || !g.reached(floor) {
			late[name] = true
		}
	}
	return late
}

func (g *group) reached(offset uint64) bool {
	g.st.mu.Lock()
	defer g.st.mu.Unlock()
	return g.st.lastOffset >= offset
}

// groupOf is the group of a stream name (RoomStream, UserStream), or nil.
func (h *Hub) groupOf(name string) *group {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(name) < 2 {
		return nil
	}
	switch name[:2] {
	case "r:":
		return h.rooms[name[2:]]
	case "u:":
		return h.users[name[2:]]
	}
	return nil
}

// Freeze runs snap (the gateway's Snapshot of detached c) between two
// deliveries of every stream c gets messages on, and returns c's Cuts as
// they were then: what its queue holds, and nothing after.
func (h *Hub) Freeze(c *gateway.Conn, snap func() error) (Cuts, error) {
	cid, err := bus.ParseConnID(c.ID())
	if err != nil {
		return nil, fmt.Errorf("hub: freeze: %w", err)
	}
	type named struct {
		name     string
		s        *stream
		followed bool
	}
	ds := h.directStream(cid.Worker)
	if ds == nil {
		return nil, fmt.Errorf("%w: %s's subject", ErrInexact, cid.Worker)
	}
	ss := []named{{StreamAll, &h.all, false}, {StreamConn, ds, false}}
	h.mu.RLock()
	if m := h.state[c]; m != nil {
		for room := range m.rooms {
			if g := h.rooms[room]; g != nil {
				ss = append(ss, named{RoomStream(room), &g.st, g.following.Load()})
			}
		}
		if g := h.users[m.uid]; m.uid != "" && g != nil {
			ss = append(ss, named{UserStream(m.uid), &g.st, g.following.Load()})
		}
	}
	h.mu.RUnlock()
	for _, n := range ss {
		n.s.mu.Lock()
	}
	defer func() {
		for _, n := range ss {
			n.s.mu.Unlock()
		}
	}()
	if err := snap(); err != nil {
		return nil, err
	}
	cuts := make(Cuts, len(ss))
	for _, n := range ss {
		cut, ok := n.s.cutLocked(n.followed)
		if !ok {
			return nil, fmt.Errorf("%w: %s", ErrInexact, n.name)
		}
		cuts[n.name] = cut
	}
	return cuts, nil
}

// Keeping reports whether room messages wait in the worker's keeper
// (keeper.go): a sender's connection moving now could have its next
// message kept, by the new worker, before its last one.
func (h *Hub) Keeping() bool { return h.keeper.busy() }
