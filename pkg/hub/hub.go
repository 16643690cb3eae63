package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// Options configures a Hub.
type Options struct {
	// Self is this worker's id. Required.
	Self bus.WorkerID
	// Bus is the worker's bus connection. Required.
	Bus *bus.Client
	// Log is the worker's logger.
	Log *slog.Logger
	// QueryTimeout bounds a presence query. Default 1s.
	QueryTimeout time.Duration
	// Conns is the worker's registry of live connections (the gateway's).
	// Required.
	Conns Registry
}

// Registry finds the worker's live connections.
type Registry interface {
	// Lookup returns the connection with the id, or nil.
	Lookup(id string) *gateway.Conn
	// Len is the number of live connections.
	Len() int
}

// ErrNotLocal: the connection passed to Join, Leave, Bind or Unbind is not
// one of this worker's.
var ErrNotLocal = errors.New("hub: not a connection of this worker")

// Hub is one worker's registry of rooms and users, and its router.
type Hub struct {
	opts  Options
	log   *slog.Logger
	peers *bus.Peers
	subs  []*bus.Subscription
	wg    sync.WaitGroup
	stop  context.CancelFunc

	// state holds only connections in a room or bound to a user: one that
	// is in neither (most of a push app's) costs the hub nothing.
	mu    sync.RWMutex
	state map[*gateway.Conn]*membership
	rooms map[string]*group
	users map[string]*group
}

// membership is what one local connection belongs to.
type membership struct {
	rooms map[string]struct{}
	uid   string
}

// group is the local members of one room or user, and the subscription that
// brings their messages while there is any.
type group struct {
	members map[*gateway.Conn]struct{}
	sub     *bus.Subscription
}

// New returns a Hub; Start connects it to the bus.
func New(opts Options) *Hub {
	if opts.QueryTimeout == 0 {
		opts.QueryTimeout = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Hub{
		opts: opts, log: opts.Log,
		state: make(map[*gateway.Conn]*membership),
		rooms: make(map[string]*group),
		users: make(map[string]*group),
	}
}

// Start subscribes to this worker's own subject and to presence queries,
// and starts announcing the worker.
func (h *Hub) Start(ctx context.Context) error {
	b := h.opts.Bus
	peers, err := b.TrackPeers(bus.Workers, h.opts.Self)
	if err != nil {
		return err
	}
	h.peers = peers
	s1, err := b.SubscribeWorker(h.opts.Self, h.deliverDirect)
	if err != nil {
		peers.Stop()
		return err
	}
	s2, err := b.ServePresence(h.answer)
	if err != nil {
		peers.Stop()
		s1.Unsubscribe()
		return err
	}
	h.subs = []*bus.Subscription{s1, s2}
	// Subscribed everywhere first, then announced: a query that counts us
	// finds us answering.
	if err := b.Hello(bus.Workers, h.opts.Self); err != nil {
		h.Stop()
		return err
	}
	ctx, h.stop = context.WithCancel(context.Background())
	h.wg.Go(func() { b.RunHeartbeat(ctx, bus.Workers, h.opts.Self) })
	return nil
}

// Stop says goodbye to the cluster and drops every subscription.
func (h *Hub) Stop() {
	if h.stop != nil {
		h.stop()
	}
	h.wg.Wait()
	for _, s := range h.subs {
		s.Unsubscribe()
	}
	if h.peers != nil {
		h.peers.Stop()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, groups := range []map[string]*group{h.rooms, h.users} {
		for _, g := range groups {
			g.sub.Unsubscribe()
		}
	}
}

// Remove forgets a closed connection: it leaves its rooms and its user.
func (h *Hub) Remove(c *gateway.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.state[c]
	if m == nil {
		return
	}
	for room := range m.rooms {
		h.leaveLocked(h.rooms, room, c)
	}
	if m.uid != "" {
		h.leaveLocked(h.users, m.uid, c)
	}
	delete(h.state, c)
}

// stateLocked returns c's membership, creating it. h.mu is held.
func (h *Hub) stateLocked(c *gateway.Conn) (*membership, error) {
	if m := h.state[c]; m != nil {
		return m, nil
	}
	if h.opts.Conns.Lookup(c.ID()) != c {
		return nil, ErrNotLocal
	}
	m := &membership{}
	h.state[c] = m
	return m, nil
}

// tidyLocked drops c's membership once it is in no room and no user.
func (h *Hub) tidyLocked(c *gateway.Conn, m *membership) {
	if len(m.rooms) == 0 && m.uid == "" {
		delete(h.state, c)
	}
}

// Join adds c to room.
func (h *Hub) Join(c *gateway.Conn, room string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	m, err := h.stateLocked(c)
	if err != nil {
		return err
	}
	if _, ok := m.rooms[room]; ok {
		return nil
	}
	if err := h.joinLocked(h.rooms, room, c, h.opts.Bus.SubscribeRoom); err != nil {
		h.tidyLocked(c, m)
		return err
	}
	if m.rooms == nil {
		m.rooms = make(map[string]struct{})
	}
	m.rooms[room] = struct{}{}
	return nil
}

// Leave removes c from room.
func (h *Hub) Leave(c *gateway.Conn, room string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.state[c]
	if m == nil {
		return nil // in no room
	}
	if _, ok := m.rooms[room]; !ok {
		return nil
	}
	delete(m.rooms, room)
	h.leaveLocked(h.rooms, room, c)
	h.tidyLocked(c, m)
	return nil
}

// Rooms lists the rooms c is in.
func (h *Hub) Rooms(c *gateway.Conn) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	m := h.state[c]
	if m == nil {
		return nil
	}
	out := make([]string, 0, len(m.rooms))
	for r := range m.rooms {
		out = append(out, r)
	}
	return out
}

// Bind binds c to uid (one user, many connections), replacing an earlier
// binding of c.
func (h *Hub) Bind(c *gateway.Conn, uid string) error {
	if uid == "" {
		return errors.New("hub: empty user id")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	m, err := h.stateLocked(c)
	if err != nil {
		return err
	}
	if m.uid == uid {
		return nil
	}
	if err := h.joinLocked(h.users, uid, c, h.opts.Bus.SubscribeUser); err != nil {
		h.tidyLocked(c, m)
		return err
	}
	if m.uid != "" {
		h.leaveLocked(h.users, m.uid, c)
	}
	m.uid = uid
	return nil
}

// Unbind removes c's user binding.
func (h *Hub) Unbind(c *gateway.Conn) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.state[c]
	if m == nil {
		return nil // bound to no one
	}
	if m.uid != "" {
		h.leaveLocked(h.users, m.uid, c)
		m.uid = ""
	}
	h.tidyLocked(c, m)
	return nil
}

// UserOf returns the user c is bound to, or "".
func (h *Hub) UserOf(c *gateway.Conn) string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if m := h.state[c]; m != nil {
		return m.uid
	}
	return ""
}

// joinLocked adds c to groups[name], subscribing when it is the first
// local member. h.mu is held: joins of one worker are serialised, which
// keeps subscribe and unsubscribe of one name in order.
func (h *Hub) joinLocked(groups map[string]*group, name string, c *gateway.Conn,
	subscribe func(string, func(bus.Message)) (*bus.Subscription, error)) error {
	g := groups[name]
	if g == nil {
		g = &group{members: make(map[*gateway.Conn]struct{})}
		sub, err := subscribe(name, func(m bus.Message) { h.deliverGroup(groups, name, m) })
		if err != nil {
			return fmt.Errorf("hub: %w", err)
		}
		g.sub = sub
		groups[name] = g
	}
	g.members[c] = struct{}{}
	return nil
}

// leaveLocked removes c from groups[name], unsubscribing with the last
// local member. h.mu is held.
func (h *Hub) leaveLocked(groups map[string]*group, name string, c *gateway.Conn) {
	g := groups[name]
	if g == nil {
		return
	}
	delete(g.members, c)
	if len(g.members) == 0 {
		if err := g.sub.Unsubscribe(); err != nil {
			h.log.Warn("unsubscribe", "name", name, "err", err)
		}
		delete(groups, name)
	}
}

// deliverGroup writes a bus message to the local members of a room or
// user. It runs on the subscription's goroutine.
func (h *Hub) deliverGroup(groups map[string]*group, name string, m bus.Message) {
	h.mu.RLock()
	g := groups[name]
	var members []*gateway.Conn
	if g != nil {
		members = make([]*gateway.Conn, 0, len(g.members))
		for c := range g.members {
			if c.ID() != m.Exclude {
				members = append(members, c)
			}
		}
	}
	h.mu.RUnlock()
	if len(members) == 0 {
		return
	}
	f := gateway.PrepareFrame(opOf(m), m.Data)
	for _, c := range members {
		c.SendFrame(f) // a full or closed connection is the gateway's to count
	}
}

// deliverDirect handles a message or a command for one of this worker's
// connections.
func (h *Hub) deliverDirect(m bus.Message) {
	c := h.opts.Conns.Lookup(m.Conn)
	if c == nil {
		return // gone meanwhile: at most once
	}
	if !m.IsCommand() {
		c.Send(opOf(m), m.Data)
		return
	}
	var err error
	switch {
	case m.Join != "":
		err = h.Join(c, m.Join)
	case m.Leave != "":
		err = h.Leave(c, m.Leave)
	case m.Bind != "":
		err = h.Bind(c, m.Bind)
	case m.Unbind:
		err = h.Unbind(c)
	}
	if err != nil {
		h.log.Warn("command failed", "conn", m.Conn, "err", err)
	}
	if m.Close {
		code := ws.StatusNormalClosure // Wsfleet-Close with no code
		if m.CloseCode != 0 {
			code = gateway.StatusCode(m.CloseCode)
		}
		c.Close(code, string(m.Data)) // which logs a code that may not be sent and sends 1011
	}
}

func opOf(m bus.Message) ws.OpCode {
	if m.Binary {
		return ws.OpBinary
	}
	return ws.OpText
}
