package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/history"
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
	// MaxRooms is the most rooms one connection may be in at once (issue
	// 10: 100k joins from one connection grew a worker by 539 MiB). Default
	// DefaultMaxRooms.
	MaxRooms int
	// Conns is the worker's registry of live connections (the gateway's).
	// Required.
	Conns Registry
	// RefreshToken verifies a new connection token for c and returns its
	// expiry (app.Worker.RefreshToken); nil when the worker checks no
	// tokens.
	RefreshToken func(c *gateway.Conn, token string) (time.Time, error)
	// OpenHistory opens the store of rooms' history (app.Historian); nil:
	// no room has any. Start calls it on a goroutine of the hub's, again
	// every second while it fails with an error history.Retryable
	// accepts (a JetStream cluster electing its leader once the hosts'
	// routes formed): until then rooms have no history.
	OpenHistory func(ctx context.Context) (*history.Store, error)
	// FormatKept makes the message a room's member gets of a kept one,
	// with its position (app.KeptFormatter); nil: the message as kept.
	FormatKept func(room string, k app.Kept) app.Message
	// FormatKeptUser makes the message a user's connection gets of one
	// kept for the user (app.UserKeptFormatter). Users have history only
	// when it is set (an app that keeps it: the chat): each user with
	// history costs a JetStream consumer per worker holding one of its
	// connections, which an app binding every connection to a user and
	// never resuming should not pay.
	FormatKeptUser func(uid string, k app.Kept) app.Message
	// Delivered, when set, is called after a room's or a user's bus
	// message carrying a Message.Sent was written to the local members,
	// with that time (the worker's delivery latency); nil: not measured.
	Delivered func(sent time.Time)
}

// DefaultMaxRooms is Options.MaxRooms's default: more rooms than a chat
// client shows at once.
const DefaultMaxRooms = 100

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
	// is in neither (most of a push app's) costs the hub nothing. mu is
	// never held across a network round trip (see group).
	mu      sync.RWMutex
	stopped bool
	state   map[*gateway.Conn]*membership
	rooms   map[string]*group
	users   map[string]*group
	// heldBytes are the bytes held back for joins since a position, over
	// all of the worker's connections (history.go).
	heldBytes atomic.Int64
	// history is the store OpenHistory opened; nil before, or without.
	history atomic.Pointer[history.Store]
	// sinceJoins bounds the backends' joins since a position replaying at
	// once (history_cmd.go).
	sinceJoins chan struct{}
	// keeper holds room messages waiting to be kept (keeper.go).
	keeper *keeper
	// adopted are the workers whose connections this one took over in a
	// hand-off, and whose subjects it subscribes to (handoff.go).
	adoptMu sync.Mutex
	adopted map[bus.WorkerID]bool
	// exact is the hand-offs' bookkeeping (stream.go).
	exact
}

// membership is what one local connection belongs to.
type membership struct {
	rooms map[string]struct{}
	uid   string
}

// New returns a Hub; Start connects it to the bus.
func New(opts Options) *Hub {
	if opts.QueryTimeout == 0 {
		opts.QueryTimeout = time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.MaxRooms <= 0 {
		opts.MaxRooms = DefaultMaxRooms
	}
	return &Hub{
		opts: opts, log: opts.Log,
		state:      make(map[*gateway.Conn]*membership),
		rooms:      make(map[string]*group),
		users:      make(map[string]*group),
		sinceJoins: make(chan struct{}, maxSinceJoins),
		keeper:     newKeeper(),
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
	s1, err := b.SubscribeWorker(h.opts.Self, h.directTo(h.opts.Self), h.deliverCommand)
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
	// The first try is made now, so that a worker that starts with
	// JetStream at hand serves history from its first connection.
	if h.opts.OpenHistory != nil && !h.tryHistory(ctx) {
		h.wg.Go(func() { h.openHistory(ctx) })
	}
	if h.opts.OpenHistory != nil {
		h.wg.Go(func() { h.runKeeper(ctx) })
	}
	return nil
}

// Stop says goodbye to the cluster and drops every subscription. It waits
// for subscriptions on their way (each bounded by the bus's flush timeout).
func (h *Hub) Stop() {
	h.mu.Lock()
	h.stopped = true // no new subscription starts: wg.Wait below is final
	h.mu.Unlock()
	if h.stop != nil {
		h.stop()
	}
	h.wg.Wait()
	h.mu.Lock()
	subs := h.subs // AdoptConn appends under mu
	h.mu.Unlock()
	for _, s := range subs {
		s.Unsubscribe()
	}
	if h.peers != nil {
		h.peers.Stop()
	}
	h.mu.Lock()
	var gs []*group
	for _, groups := range []map[string]*group{h.rooms, h.users} {
		for _, g := range groups {
			h.dropLocked(g)
			gs = append(gs, g)
		}
	}
	h.mu.Unlock()
	h.end(gs...)
}

// Remove forgets a closed connection: it leaves its rooms and its user.
func (h *Hub) Remove(c *gateway.Conn) {
	h.mu.Lock()
	m := h.state[c]
	if m == nil {
		h.mu.Unlock()
		return
	}
	gs := make([]*group, 0, len(m.rooms)+1)
	for room := range m.rooms {
		gs = append(gs, h.removeLocked(roomKind, room, c))
	}
	if m.uid != "" {
		gs = append(gs, h.removeLocked(userKind, m.uid, c))
	}
	delete(h.state, c)
	h.mu.Unlock()
	h.end(gs...)
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

// Join adds c to room. It returns once the worker's subscription to the
// room is in place, so that a message published afterwards reaches c; a
// join that needs no new subscription returns at once. A connection in
// Options.MaxRooms rooms gets ErrTooManyRooms.
func (h *Hub) Join(c *gateway.Conn, room string) error {
	g, err := h.join(c, room)
	if err != nil || g == nil {
		return err
	}
	return h.wait(g)
}

// join adds c to room without waiting for the subscription; it returns the
// group, nil when c was already in the room.
func (h *Hub) join(c *gateway.Conn, room string) (*group, error) { return h.joinWith(c, room, false) }

// joinWith is join; hold also holds the room's messages to c back until
// release (history.go).
func (h *Hub) joinWith(c *gateway.Conn, room string, hold bool) (*group, error) {
	if err := checkName(room); err != nil {
		return nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	m, err := h.stateLocked(c)
	if err != nil {
		return nil, err
	}
	if _, ok := m.rooms[room]; ok {
		return nil, nil
	}
	if len(m.rooms) >= h.opts.MaxRooms {
		h.tidyLocked(c, m)
		return nil, fmt.Errorf("%w: a connection may be in at most %d", ErrTooManyRooms, h.opts.MaxRooms)
	}
	g, err := h.addLocked(roomKind, room, c)
	if err != nil {
		h.tidyLocked(c, m)
		return nil, err
	}
	if m.rooms == nil {
		m.rooms = make(map[string]struct{})
	}
	m.rooms[room] = struct{}{}
	if hold {
		g.hold(c)
	}
	return g, nil
}

// Leave removes c from room.
func (h *Hub) Leave(c *gateway.Conn, room string) error {
	h.mu.Lock()
	m := h.state[c]
	if m == nil {
		h.mu.Unlock()
		return nil // in no room
	}
	if _, ok := m.rooms[room]; !ok {
		h.mu.Unlock()
		return nil
	}
	delete(m.rooms, room)
	g := h.removeLocked(roomKind, room, c)
	h.tidyLocked(c, m)
	h.mu.Unlock()
	h.end(g)
	return nil
}

// ConnRooms lists the rooms c is in.
func (h *Hub) ConnRooms(c *gateway.Conn) []string {
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
// binding of c. Like Join, it returns once the subscription is in place.
func (h *Hub) Bind(c *gateway.Conn, uid string) error {
	g, err := h.bind(c, uid)
	if err != nil || g == nil {
		return err
	}
	return h.wait(g)
}

func (h *Hub) bind(c *gateway.Conn, uid string) (*group, error) { return h.bindWith(c, uid, false) }

// bindWith is bind; hold also holds uid's messages to c back until release
// (history_user.go), c already bound to uid included.
func (h *Hub) bindWith(c *gateway.Conn, uid string, hold bool) (*group, error) {
	if err := checkName(uid); err != nil {
		return nil, err
	}
	h.mu.Lock()
	m, err := h.stateLocked(c)
	if err != nil {
		h.mu.Unlock()
		return nil, err
	}
	if m.uid == uid {
		defer h.mu.Unlock()
		if !hold {
			return nil, nil
		}
		return h.rehold(c, uid)
	}
	g, err := h.addLocked(userKind, uid, c)
	if err != nil {
		h.tidyLocked(c, m)
		h.mu.Unlock()
		return nil, err
	}
	if hold {
		g.hold(c)
	}
	var old *group
	if m.uid != "" {
		old = h.removeLocked(userKind, m.uid, c)
	}
	m.uid = uid
	h.mu.Unlock()
	h.end(old)
	return g, nil
}

// Unbind removes c's user binding.
func (h *Hub) Unbind(c *gateway.Conn) error {
	h.mu.Lock()
	m := h.state[c]
	if m == nil {
		h.mu.Unlock()
		return nil // bound to no one
	}
	var old *group
	if m.uid != "" {
		old = h.removeLocked(userKind, m.uid, c)
		m.uid = ""
	}
	h.tidyLocked(c, m)
	h.mu.Unlock()
	h.end(old)
	return nil
}

// ConnUser returns the user c is bound to, or "".
func (h *Hub) ConnUser(c *gateway.Conn) string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if m := h.state[c]; m != nil {
		return m.uid
	}
	return ""
}
