package hub

import (
	"context"
	"fmt"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// The worker receiving connections (stream.go): per batch Prepare, then
// AdoptMember for each connection, then EndBatch; EndReceive at the end.

// Prepare readies the worker for a batch of connections in rooms and
// bound to users, owned by the connection ids' workers: from now on every
// stream buffers what it delivers (the previous batch's buffers go), the
// owners' subjects and the groups are subscribed (each group pinned until
// EndBatch), and it returns, per followed group's stream name, the kept
// offset it had delivered up to when its buffer started: the old worker
// must have delivered as far before its snapshots.
func (h *Hub) Prepare(ctx context.Context, rooms, users, conns []string) (map[string]uint64, error) {
	h.receiving.Store(true)
	h.buffering.Store(true)
	in := make(map[string]struct{}, len(conns))
	for _, id := range conns {
		in[id] = struct{}{}
	}
	h.incoming.Store(&in)
	for _, id := range conns {
		if err := h.AdoptConn(id); err != nil {
			return nil, err
		}
	}
	var gs []*group
	for _, n := range []struct {
		k     groupKind
		names []string
	}{{roomKind, rooms}, {userKind, users}} {
		for _, name := range n.names {
			g, err := h.pin(n.k, name)
			if err != nil {
				return nil, err
			}
			gs = append(gs, g)
		}
	}
	for _, g := range gs {
		select {
		case <-g.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if g.err != nil {
			return nil, g.err
		}
	}
	// What this worker handles from here on was published after its
	// flush: the old worker, which records its positions since before,
	// has them if it delivered them. The buffers start here.
	if err := h.Settle(ctx); err != nil {
		return nil, err
	}
	for _, s := range h.streams() {
		s.mu.Lock()
		h.clearBufLocked(s)
		s.mu.Unlock()
	}
	floors := make(map[string]uint64)
	for _, g := range gs {
		switch {
		case g.following.Load():
			g.st.mu.Lock()
			h.clearBufLocked(&g.st) // with the floor, at once
			floors[g.streamName()] = g.st.lastOffset
			g.st.mu.Unlock()
		case h.keeps(g):
			// Kept, but its consumer failed: the kept messages come on
			// the subject, from now on; the old worker must have
			// delivered those kept before.
			if p, err := h.current(ctx, g); err == nil {
				floors[g.streamName()] = p.Offset
			}
		}
	}
	return floors, nil
}

// current is the last kept offset of g's room or user.
func (h *Hub) current(ctx context.Context, g *group) (app.Position, error) {
	st := h.history.Load()
	if g.kind == userKind {
		return st.CurrentUser(ctx, g.name)
	}
	return st.Current(ctx, g.name)
}

func (g *group) streamName() string {
	if g.kind == userKind {
		return UserStream(g.name)
	}
	return RoomStream(g.name)
}

// pin subscribes the kind's group name, with or without members, until
// EndBatch.
func (h *Hub) pin(k groupKind, name string) (*group, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	groups := h.groupsLocked(k)
	g := groups[name]
	if g == nil {
		switch {
		case h.stopped:
			return nil, errStopped
		case !h.opts.Bus.Connected():
			return nil, ErrBusDown
		}
		g = &group{kind: k, name: name, members: map[*gateway.Conn]struct{}{}, ready: make(chan struct{})}
		groups[name] = g
		h.wg.Go(func() { h.subscribe(g) })
	}
	g.pins++
	h.pinned = append(h.pinned, g)
	return g, nil
}

// EndBatch unpins the groups the last Prepare pinned.
func (h *Hub) EndBatch() {
	h.mu.Lock()
	var gs []*group
	for _, g := range h.pinned {
		g.pins--
		if g.pins == 0 && len(g.members) == 0 && g.state == active {
			h.dropLocked(g)
			gs = append(gs, g)
		}
	}
	h.pinned = nil
	h.mu.Unlock()
	h.incoming.Store(nil)
	h.end(gs...)
}

// AdoptMember makes c, just imported, a member of its user's and rooms'
// groups, each in a Prepare'd batch, with what the old worker had not
// delivered to it: under each of its streams' locks, what that stream
// buffered past c's Cut is queued to c, then c becomes a member, and the
// Cut filters the stream's later deliveries to c until EndReceive.
// A stream that lost messages (its buffer's bounds) refuses c.
func (h *Hub) AdoptMember(c *gateway.Conn, uid string, rooms []string, cuts Cuts) error {
	if err := h.AdoptConn(c.ID()); err != nil {
		return err
	}
	cid, err := parseOwner(c.ID())
	if err != nil {
		return err
	}
	for _, s := range []struct {
		name string
		s    *stream
	}{{StreamAll, &h.all}, {StreamConn, h.directStream(cid)}} {
		if s.s == nil {
			return fmt.Errorf("%w: %s", ErrInexact, s.name)
		}
		if err := h.attach(s.s, c, cuts[s.name], nil); err != nil {
			return fmt.Errorf("hub: hand-off %s: %w", s.name, err)
		}
	}
	if uid != "" {
		if err := h.attachGroup(c, userKind, uid, cuts[UserStream(uid)]); err != nil {
			return err
		}
	}
	for _, room := range rooms {
		if err := h.attachGroup(c, roomKind, room, cuts[RoomStream(room)]); err != nil {
			return err
		}
	}
	return nil
}

// attachGroup attaches c to the pinned group of kind and name.
func (h *Hub) attachGroup(c *gateway.Conn, k groupKind, name string, cut Cut) error {
	h.mu.RLock()
	g := h.groupsLocked(k)[name]
	prepared := g != nil && (g.pins > 0 || g.state == active)
	h.mu.RUnlock()
	if !prepared {
		return fmt.Errorf("%w: %s %q not prepared", ErrInexact, k, name)
	}
	// Kept messages go by offset where the old worker followed the
	// history (whether this one does or gets them on the subject), by
	// publisher where neither does; a room this worker follows and the old
	// one did not would mix the two.
	if _, byOffset := cut[CutOffset]; !byOffset && g.following.Load() {
		return fmt.Errorf("%w: %s %q: history followed here only", ErrInexact, k, name)
	}
	err := h.attach(&g.st, c, cut, func() error {
		var got *group
		var err error
		if k == userKind {
			got, err = h.bindWith(c, name, false)
		} else {
			got, err = h.joinWith(c, name, false)
		}
		if err == nil && got != nil && got != g {
			err = fmt.Errorf("%w: %s %q changed", ErrInexact, k, name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("hub: hand-off %s %q: %w", k, name, err)
	}
	return nil
}

// attach replays s's buffer past cut to c, runs join, and sets c's filter,
// all under s.mu.
func (h *Hub) attach(s *stream, c *gateway.Conn, cut Cut, join func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bufOver {
		return fmt.Errorf("%w: buffer full", ErrInexact)
	}
	if cut == nil {
		cut = Cut{}
	}
	for _, b := range s.buf {
		if b.conn != "" && b.conn != c.ID() || b.m.Exclude == c.ID() || !cut.replayable(b.m) {
			continue
		}
		c.Send(opOf(b.m.Binary), b.m.Data)
	}
	if join != nil {
		if err := join(); err != nil {
			return err
		}
	}
	if s.cuts == nil {
		s.cuts = make(map[*gateway.Conn]Cut)
	}
	s.cuts[c] = cut
	return nil
}

// EndReceive ends a hand-off's receiving once every message the old
// worker may also have delivered has come through (Settle): the filters,
// buffers and pins go.
func (h *Hub) EndReceive(ctx context.Context) {
	h.buffering.Store(false)
	if err := h.Settle(ctx); err != nil {
		h.log.Warn("hand-off: settling", "err", err)
	}
	// A followed room's consumer here may lag behind the old worker's: the
	// filters stay until it delivered past every cut.
	if late := h.WaitOffsets(ctx, h.keptCuts()); len(late) > 0 {
		h.log.Warn("hand-off: kept messages still to come", "groups", len(late))
	}
	h.EndBatch()
	for _, s := range h.streams() {
		s.mu.Lock()
		s.cuts = nil
		h.clearBufLocked(s)
		s.mu.Unlock()
	}
	h.receiving.Store(false)
}

// keptCuts is, per followed group with imported connections, the highest
// kept offset their cuts name.
func (h *Hub) keptCuts() map[string]uint64 {
	h.mu.RLock()
	var gs []*group
	for _, groups := range []map[string]*group{h.rooms, h.users} {
		for _, g := range groups {
			if g.following.Load() {
				gs = append(gs, g)
			}
		}
	}
	h.mu.RUnlock()
	out := make(map[string]uint64)
	for _, g := range gs {
		g.st.mu.Lock()
		for _, cut := range g.st.cuts {
			if v, ok := cut[CutOffset]; ok && v > out[g.streamName()] {
				out[g.streamName()] = v
			}
		}
		g.st.mu.Unlock()
	}
	return out
}
