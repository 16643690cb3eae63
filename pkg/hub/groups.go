package hub

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// A group is the local members of one room or one user, and the bus
// subscription that brings their messages while there is any member.
//
// Its life is a small state machine, kept under Hub.mu, so that no network
// round trip is ever made with that lock held (issue 10: each join used to
// hold it across a NATS flush, and a join during a NATS outage blocked every
// room of the worker for 10 s):
//
//	subscribing --subscribed, members--> active --last member left--> dropped
//	subscribing --subscribed, no member--> dropped
//	subscribing --failed--> dropped (its members are taken out again)
//
// The first member's join creates the group and starts its subscription on
// a goroutine of the hub's; whoever joins meanwhile becomes a member at once
// and, if it waits (Join, Bind), waits on ready for that one subscription.
// A dropped group is out of the map: a later join makes a new group with a
// new subscription, and the old subscription's late messages go to the old,
// empty group, so nothing is delivered twice.
type group struct {
	kind    groupKind
	name    string
	members map[*gateway.Conn]struct{}
	state   groupState
	sub     *bus.Subscription // set when active
	ready   chan struct{}     // closed when subscribing ends, either way
	err     error             // why subscribing failed; read after ready
	// held are the members joining since a position, whose messages are
	// held back until their replay ended (history.go); nil for most.
	held map[*gateway.Conn]*heldBuf
	// floor is, for members that joined since a position, the offset
	// their replay went up to: a kept message at or below it reaching the
	// worker after the replay (a late copy) is not delivered to them again.
	floor map[*gateway.Conn]uint64
	// follow, for a room (or user) with history, stops the JetStream
	// consumer that delivers its kept messages in offset order
	// (history.go); nil when it has none, and its kept messages come
	// through sub.
	follow func()
	// following is set while follow delivers the kept messages: their
	// copies on the room's subject are then skipped.
	following atomic.Bool
	// st orders the group's deliveries for hand-offs (stream.go).
	st stream
	// pins counts the hand-offs that need the group subscribed before any
	// member comes (Prepare): a pinned group stays without members.
	pins int
}

type groupState uint8

const (
	subscribing groupState = iota
	active
	dropped
)

// groupKind says whether a group is a room or a user: which map holds it
// and which field of a membership names it.
type groupKind uint8

const (
	roomKind groupKind = iota
	userKind
)

func (k groupKind) String() string {
	if k == userKind {
		return "user"
	}
	return "room"
}

// ErrTooManyRooms: the connection is already in Options.MaxRooms rooms.
var ErrTooManyRooms = errors.New("hub: too many rooms")

// ErrBusDown: a join or bind needed a new subscription while the worker is
// cut off from NATS. Nothing changed; try again once the bus is back.
var ErrBusDown = errors.New("hub: the bus is unavailable, try again later")

// MaxName is the longest room or user name, in bytes: its subject must
// fit in NATS's 4 KiB protocol line (a longer SUB or PUB makes the server
// close the worker's connection to it).
const MaxName = 1024

// ErrBadName: a room or user name is empty or longer than MaxName bytes.
var ErrBadName = fmt.Errorf("hub: a room or user name is 1 to %d bytes", MaxName)

func checkName(name string) error {
	if name == "" || len(name) > MaxName {
		return ErrBadName
	}
	return nil
}

// errStopped: the hub is stopping.
var errStopped = errors.New("hub: stopped")

// groupsLocked returns the map of kind. h.mu is held.
func (h *Hub) groupsLocked(k groupKind) map[string]*group {
	if k == userKind {
		return h.users
	}
	return h.rooms
}

// addLocked makes c a member of the kind's group name, creating the group
// and starting its subscription when c is its first local member. It
// returns the group; the caller waits on its ready channel if it must know
// the subscription is in place. h.mu is held.
func (h *Hub) addLocked(k groupKind, name string, c *gateway.Conn) (*group, error) {
	groups := h.groupsLocked(k)
	if g := groups[name]; g != nil {
		g.members[c] = struct{}{}
		return g, nil
	}
	if h.stopped {
		return nil, errStopped
	}
	// A worker cut off from NATS answers at once rather than after the
	// client library's 10 s flush timeout; rooms it already has stay, and
	// the client library restores their subscriptions on reconnection.
	if !h.opts.Bus.Connected() {
		return nil, ErrBusDown
	}
	g := &group{kind: k, name: name, members: map[*gateway.Conn]struct{}{c: {}}, ready: make(chan struct{})}
	groups[name] = g
	h.wg.Go(func() { h.subscribe(g) })
	return g, nil
}

// subscribe takes g from subscribing to active, or to dropped. It runs on a
// goroutine of its own, without h.mu, as it waits for the NATS server.
func (h *Hub) subscribe(g *group) {
	deliver := func(m bus.Message) {
		if m.Offset != 0 && g.following.Load() {
			return // it comes in offset order through g.follow
		}
		h.deliverGroup(g, m, false)
	}
	var sub *bus.Subscription
	var err error
	if g.kind == userKind {
		sub, err = h.opts.Bus.SubscribeUser(g.name, deliver)
	} else {
		sub, err = h.opts.Bus.SubscribeRoom(g.name, deliver)
	}
	var follow func()
	if err == nil && h.keeps(g) {
		follow = h.follow(g)
	}
	h.mu.Lock()
	switch {
	case err != nil:
		g.err = fmt.Errorf("hub: %s %q: %w", g.kind, g.name, err)
		h.dropLocked(g)
		for c := range g.members {
			h.forgetLocked(g, c)
			h.unholdLocked(g, c)
		}
		clear(g.members)
	case len(g.members) == 0 && g.pins == 0: // everyone left while it subscribed
		h.dropLocked(g)
	default:
		g.state = active
	}
	g.sub, g.follow = sub, follow
	close(g.ready)
	end := g.state == dropped
	h.mu.Unlock()
	if end {
		h.end(g)
	}
	if err != nil {
		h.log.Warn("subscribe failed", "kind", g.kind, "name", g.name, "err", err)
	}
}

// dropLocked takes g out of its map. h.mu is held.
func (h *Hub) dropLocked(g *group) {
	g.state = dropped
	groups := h.groupsLocked(g.kind)
	if groups[g.name] == g {
		delete(groups, g.name)
	}
}

// forgetLocked takes g out of c's membership, after g failed. h.mu is held.
func (h *Hub) forgetLocked(g *group, c *gateway.Conn) {
	m := h.state[c]
	if m == nil {
		return
	}
	if g.kind == userKind {
		if m.uid == g.name {
			m.uid = ""
		}
	} else {
		delete(m.rooms, g.name)
	}
	h.tidyLocked(c, m)
}

// removeLocked takes c out of the kind's group name. It returns the group
// when c was the last member of an active one: the caller ends its
// subscription (end) after releasing h.mu. h.mu is held.
func (h *Hub) removeLocked(k groupKind, name string, c *gateway.Conn) *group {
	g := h.groupsLocked(k)[name]
	if g == nil {
		return nil
	}
	delete(g.members, c)
	h.unholdLocked(g, c)
	if len(g.members) > 0 || g.pins > 0 || g.state != active {
		return nil // a subscribing group is settled by its subscribe
	}
	h.dropLocked(g)
	return g
}

// wait waits for g's subscription, for a caller that must know messages
// published from now on reach it.
func (h *Hub) wait(g *group) error {
	<-g.ready // bounded: subscribe's flush has a timeout
	return g.err
}

// end ends the subscriptions of dropped groups, without h.mu: ending one
// writes to the NATS connection, which may be stalled. Nil groups are
// skipped.
func (h *Hub) end(gs ...*group) {
	for _, g := range gs {
		if g == nil || g.sub == nil {
			continue
		}
		if g.follow != nil {
			g.follow()
		}
		if err := g.sub.Unsubscribe(); err != nil {
			h.log.Warn("unsubscribe", "kind", g.kind, "name", g.name, "err", err)
		}
	}
}

// deliverGroup writes a bus message to g's local members. It runs on the
// subscription's goroutine, or the JetStream consumer's for a kept message
// (kept), one delivery at a time (stream.go).
func (h *Hub) deliverGroup(g *group, m bus.Message, kept bool) {
	s := &g.st
	s.mu.Lock()
	defer s.mu.Unlock()
	if kept && m.Offset > s.lastOffset {
		s.lastOffset = m.Offset
	}
	h.beforeLocked(s, m, "")
	defer h.afterLocked(s, m)
	receiving := h.receiving.Load()
	h.mu.RLock()
	members := make([]*gateway.Conn, 0, len(g.members))
	for c := range g.members {
		if c.ID() == m.Exclude {
			continue
		}
		if h.skipLocked(s, c, m, receiving) {
			continue
		}
		if len(g.held) > 0 && h.heldLocked(g, c, m) {
			continue
		}
		if len(g.floor) > 0 && m.Offset != 0 && m.Offset <= g.floor[c] {
			continue // replayed already
		}
		members = append(members, c)
	}
	h.mu.RUnlock()
	if len(members) == 0 {
		return
	}
	f := gateway.PrepareFrame(opOf(m.Binary), m.Data)
	for _, c := range members {
		c.SendFrame(f) // a full or closed connection is the gateway's to count
	}
	if h.opts.Delivered != nil && !m.Sent.IsZero() {
		h.opts.Delivered(m.Sent)
	}
}
