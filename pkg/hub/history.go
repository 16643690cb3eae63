package hub

import (
	"context"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/history"
)

// The Hub keeps room history through Options.History (app.Historian). A
// join since a position subscribes first, holding the room's live messages
// to the joiner back, then replays the kept messages up to the room's last
// one, then delivers the held messages whose offset is past that (and the
// unkept ones, offset 0), in arrival order: nothing lost or repeated at
// the seam.

var _ app.Historian = (*Hub)(nil)

// Bounds of the messages held back for joins since a position: per joining
// connection, and per worker. Past either, the hold gives up: the join
// answers Recovered false (the messages held are still delivered, the
// further ones until the replay ends are not).
const (
	maxHeldMessages = 1024
	maxHeldBytes    = 1 << 20
	maxHeldWorker   = 64 << 20
	// replayTimeout bounds a replay's reads from JetStream.
	replayTimeout = 5 * time.Second
)

// heldBuf is what a joining connection's room delivered meanwhile.
type heldBuf struct {
	mu    sync.Mutex // the room's subject and its JetStream consumer both add
	msgs  []bus.Message
	bytes int
	over  bool // some were not held: the bounds were reached
}

// hold starts holding c's messages of g. h.mu is held.
func (g *group) hold(c *gateway.Conn) {
	if g.held == nil {
		g.held = make(map[*gateway.Conn]*heldBuf)
	}
	g.held[c] = &heldBuf{}
}

// heldLocked holds m back for c if c's messages of g are held, and says so.
// It runs under h.mu's read lock (release takes the write lock).
func (h *Hub) heldLocked(g *group, c *gateway.Conn, m bus.Message) bool {
	hb := g.held[c]
	if hb == nil {
		return false
	}
	hb.mu.Lock()
	defer hb.mu.Unlock()
	n := len(m.Data)
	if hb.over || len(hb.msgs) >= maxHeldMessages || hb.bytes+n > maxHeldBytes || h.heldBytes.Load()+int64(n) > maxHeldWorker {
		hb.over = true
		return true
	}
	hb.msgs = append(hb.msgs, m)
	hb.bytes += n
	h.heldBytes.Add(int64(n))
	return true
}

// unholdLocked drops c's held messages of g. h.mu is held.
func (h *Hub) unholdLocked(g *group, c *gateway.Conn) *heldBuf {
	delete(g.floor, c)
	hb := g.held[c]
	if hb == nil {
		return nil
	}
	delete(g.held, c)
	h.heldBytes.Add(-int64(hb.bytes))
	return hb
}

// HasHistory reports whether room keeps its messages.
func (h *Hub) HasHistory(room string) bool {
	st := h.history.Load()
	return st != nil && st.Has(room)
}

// SendToRoomKept keeps m in room's history and sends format(m, position)
// to the room; without history, or when keeping fails (JetStream down),
// it sends m as SendToRoom does and returns a zero Position. When keeping
// fails for a reason that passes (a stream electing its leader), the
// message waits in the worker's keeper (keeper.go), which sends it once
// kept, and the Position returned is zero.
func (h *Hub) SendToRoomKept(room string, m app.Message, format func(app.Message, app.Position) app.Message) (app.Position, error) {
	if err := checkName(room); err != nil {
		return app.Position{}, err
	}
	if !h.HasHistory(room) {
		return app.Position{}, h.SendToRoom(room, m, "")
	}
	j := keepJob{room: room, m: m, format: format, id: history.NewKeepID(), since: time.Now()}
	if h.keeper.busy() { // behind the messages waiting: keeper.go
		return app.Position{}, h.keepLater(j)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.QueryTimeout)
	defer cancel()
	p, err := h.history.Load().KeepOnce(ctx, room, m, j.id)
	switch {
	case err != nil && history.Transient(err):
		return app.Position{}, h.keepLater(j)
	case err != nil:
		h.log.Warn("history: not kept, sent live only", "room", room, "err", err)
		return app.Position{}, h.SendToRoom(room, m, "")
	}
	bm := busMsg(format(m, p))
	bm.Offset = p.Offset
	return p, h.opts.Bus.PublishRoom(room, bm)
}

// JoinRoomSince adds c to room and replays its history after since (see
// app.Historian). done runs while the room's deliveries on this worker
// wait: it may only queue messages to c (c.Send).
func (h *Hub) JoinRoomSince(c app.Conn, room string, since *app.Position, replay func(app.Kept), done func(app.Recovery)) error {
	gc, err := gatewayOf(c)
	if err != nil {
		return err
	}
	return h.joinSince(gc, room, since, replay, done)
}

func (h *Hub) joinSince(gc *gateway.Conn, room string, since *app.Position, replay func(app.Kept), done func(app.Recovery)) error {
	if !h.HasHistory(room) {
		if err := h.Join(gc, room); err != nil {
			return err
		}
		done(app.Recovery{})
		return nil
	}
	g, err := h.joinWith(gc, room, true)
	if err != nil {
		return err
	}
	if g == nil { // already a member: nothing to replay
		done(app.Recovery{Position: app.Position{Epoch: h.history.Load().Epoch()}})
		return nil
	}
	if err := h.wait(g); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
	defer cancel()
	var kept []app.Kept
	var rec app.Recovery
	if since == nil {
		rec.Position, err = h.history.Load().Current(ctx, room)
	} else {
		kept, rec, err = h.history.Load().Since(ctx, room, *since)
	}
	if err != nil {
		h.log.Warn("history: replay failed", "room", room, "err", err)
		kept, rec = nil, app.Recovery{}
	}
	for _, k := range kept {
		replay(k)
	}
	h.release(g, gc, rec, done)
	return nil
}

// release ends the hold of c's messages of g: done, then the held
// messages past the replay, all before the next delivery to the room.
func (h *Hub) release(g *group, c *gateway.Conn, rec app.Recovery, done func(app.Recovery)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hb := h.unholdLocked(g, c)
	if hb != nil && hb.over {
		rec.Recovered = false
	}
	done(rec)
	if hb == nil {
		return // it left meanwhile
	}
	if rec.Position.Offset > 0 {
		if g.floor == nil {
			g.floor = make(map[*gateway.Conn]uint64)
		}
		g.floor[c] = rec.Position.Offset
	}
	for _, m := range hb.msgs {
		if m.Offset != 0 && m.Offset <= rec.Position.Offset {
			continue // replayed
		}
		if _, in := g.members[c]; in {
			c.Send(opOf(m.Binary), m.Data)
		}
	}
}

// follow starts g's JetStream consumer, which delivers its room's (or
// user's) kept messages in offset order (the subject may bring those of
// two senders in either order), formatted by Options.FormatKept (or
// FormatKeptUser). It returns its stop, or nil when it failed: the kept
// messages then come through the group's subject.
func (h *Hub) follow(g *group) func() {
	g.following.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.QueryTimeout)
	defer cancel()
	deliver := func(k app.Kept) {
		bm := busMsg(h.formatKept(g.kind, g.name, k))
		bm.Offset = k.Offset
		h.deliverGroup(g, bm, true)
	}
	st := h.history.Load()
	var stop func()
	var err error
	// From the last kept message on: the group's lastOffset is where its
	// deliveries start, which a hand-off needs (stream.go).
	var start app.Position
	if g.kind == userKind {
		start, err = st.CurrentUser(ctx, g.name)
	} else {
		start, err = st.Current(ctx, g.name)
	}
	switch {
	case err != nil: // from now on, without a known start
		if g.kind == userKind {
			stop, err = st.FollowUser(ctx, g.name, deliver)
		} else {
			stop, err = st.Follow(ctx, g.name, deliver)
		}
	default:
		g.st.mu.Lock()
		g.st.lastOffset = max(g.st.lastOffset, start.Offset)
		g.st.mu.Unlock()
		if g.kind == userKind {
			stop, err = st.FollowUserAfter(ctx, g.name, start.Offset, deliver)
		} else {
			stop, err = st.FollowAfter(ctx, g.name, start.Offset, deliver)
		}
	}
	if err != nil {
		g.following.Store(false)
		h.log.Warn("history: kept messages unordered", "kind", g.kind, "name", g.name, "err", err)
		return nil
	}
	return stop
}

// formatKept is k as the app shows it to the members of the kind's group
// name (Options.FormatKept, FormatKeptUser); k's message when it has no
// formatter.
func (h *Hub) formatKept(kind groupKind, name string, k app.Kept) app.Message {
	switch {
	case kind == roomKind && h.opts.FormatKept != nil:
		return h.opts.FormatKept(name, k)
	case kind == userKind && h.opts.FormatKeptUser != nil:
		return h.opts.FormatKeptUser(name, k)
	}
	return k.Message
}

// keeps reports whether g's messages are kept (its room's or user's).
func (h *Hub) keeps(g *group) bool {
	if g.kind == userKind {
		return h.HasUserHistory(g.name)
	}
	return h.HasHistory(g.name)
}

// openHistory opens the history store with Options.OpenHistory, trying
// again every second while that may help, until ctx ends.
func (h *Hub) openHistory(ctx context.Context) {
	for !h.tryHistory(ctx) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// tryHistory tries to open the history store once. It says whether trying
// is over: opened, or no use trying again.
func (h *Hub) tryHistory(ctx context.Context) bool {
	st, err := h.opts.OpenHistory(ctx)
	switch {
	case err == nil:
		h.history.Store(st)
		h.log.Info("room history on", "epoch", st.Epoch())
		return true
	case !history.Retryable(err) || ctx.Err() != nil:
		h.log.Warn("no room history (JetStream unavailable)", "err", err)
		return true
	}
	h.log.Info("room history not yet available; trying again", "err", err)
	return false
}
