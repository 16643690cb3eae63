package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// member is one connection in a room, in a presence answer.
type member struct {
	ConnID string `json:"conn"`
	// UID is the user the connection is bound to, or "".
	UID string `json:"uid,omitempty"`
}

// query is a presence question, asked of every worker.
type query struct {
	Kind string `json:"kind"` // count, room, user, conn, users, top, connrooms (admin.go)
	Name string `json:"name,omitempty"`
	List bool   `json:"list,omitempty"`
	// After and Limit page a "users" query: the room's user ids after
	// After, at most Limit of them.
	After string `json:"after,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// answer is one worker's reply, or one piece of it: pieces add up.
type answer struct {
	Count   int      `json:"count"`
	Members []member `json:"members,omitempty"`
	Users   []string `json:"users,omitempty"`
	More    bool     `json:"more,omitempty"`
	// Top and Rooms answer the admin page's queries (admin.go).
	Top   []RoomCount `json:"top,omitempty"`
	Rooms []string    `json:"rooms,omitempty"`
}

// answer replies for this worker's own connections, in pieces of at most
// pieceMax bytes.
func (h *Hub) answer(raw []byte, pieceMax int) [][]byte {
	var q query
	var a answer
	if json.Unmarshal(raw, &q) == nil {
		h.mu.RLock()
		switch q.Kind {
		case "count":
			a.Count = h.opts.Conns.Len()
		case "conn":
			if h.opts.Conns.Lookup(q.Name) != nil {
				a.Count = 1
			}
		case "user":
			if g := h.users[q.Name]; g != nil {
				a.Count = len(g.members)
				if q.List {
					a.Members = membersOf(g, q.Name)
				}
			}
		case "room", "users":
			if g := h.rooms[q.Name]; g != nil {
				a.Count = len(g.members)
				switch {
				case q.Kind == "users":
					a.Users, a.More = h.usersLocked(g, q.After, q.Limit)
				case q.List:
					a.Members = make([]member, 0, len(g.members))
					for c := range g.members {
						a.Members = append(a.Members, member{ConnID: c.ID(), UID: h.state[c].uid})
					}
				}
			}
		case "top", "connrooms":
			h.answerAdminLocked(q, &a)
		}
		h.mu.RUnlock()
	}
	return pieces(a, pieceMax)
}

// usersLocked returns the distinct user ids of g's members after after,
// sorted, at most limit of them, and whether there are more. It keeps only
// the limit+1 smallest as it goes, so a page of a large room costs memory
// for a page, not for the room (issue 10). h.mu is held.
func (h *Hub) usersLocked(g *group, after string, limit int) ([]string, bool) {
	if limit <= 0 {
		limit = len(g.members)
	}
	best := make([]string, 0, min(limit+1, len(g.members)))
	for c := range g.members {
		uid := h.state[c].uid
		if uid == "" || uid <= after || len(best) == limit+1 && uid >= best[limit] {
			continue
		}
		i, dup := slices.BinarySearch(best, uid)
		if dup {
			continue
		}
		if len(best) == limit+1 {
			best = best[:limit] // the largest gives way
		}
		best = slices.Insert(best, i, uid)
	}
	if len(best) > limit {
		return best[:limit], true
	}
	return best, false
}

// pieces encodes a in pieces of at most pieceMax bytes each, splitting its
// lists; the count and the flag go in the first piece. A single member too
// large for a piece (pieceMax is NATS's max_payload, far above any id) is
// left to the bus to refuse and log.
func pieces(a answer, pieceMax int) [][]byte {
	head := answer{Count: a.Count, More: a.More, Top: a.Top, Rooms: a.Rooms} // both bounded: maxTop, MaxRooms
	var out [][]byte
	cur, size := head, 0
	flush := func() {
		b, _ := json.Marshal(cur) // plain struct: cannot fail
		out = append(out, b)
		cur, size = answer{}, 0
	}
	const overhead = 64 // the braces and field names of a piece
	for _, m := range a.Members {
		b, _ := json.Marshal(m)
		if size > 0 && size+len(b)+1+overhead > pieceMax {
			flush()
		}
		cur.Members = append(cur.Members, m)
		size += len(b) + 1
	}
	for _, u := range a.Users {
		b, _ := json.Marshal(u)
		if size > 0 && size+len(b)+1+overhead > pieceMax {
			flush()
		}
		cur.Users = append(cur.Users, u)
		size += len(b) + 1
	}
	flush()
	return out
}

// membersOf lists a user's group's members, all bound to uid.
func membersOf(g *group, uid string) []member {
	out := make([]member, 0, len(g.members))
	for c := range g.members {
		out = append(out, member{ConnID: c.ID(), UID: uid})
	}
	return out
}

// ask puts q to every live worker and adds up the answers.
func (h *Hub) ask(ctx context.Context, q query) (answer, error) {
	return askWorkers(ctx, h.opts.Bus, len(h.peers.Live()), h.opts.QueryTimeout, q)
}

// askWorkers puts q to the cluster's workers, expecting expect of them to
// answer within timeout, and adds up the answers.
func askWorkers(ctx context.Context, b *bus.Client, expect int, timeout time.Duration, q query) (answer, error) {
	raw, _ := json.Marshal(q) // plain struct: cannot fail
	replies, err := b.Gather(ctx, raw, expect, timeout)
	if err != nil {
		return answer{}, fmt.Errorf("hub: presence: %w", err)
	}
	var total answer
	for _, r := range replies {
		var a answer
		if json.Unmarshal(r, &a) != nil {
			continue
		}
		total.Count += a.Count
		total.Members = append(total.Members, a.Members...)
		total.Users = append(total.Users, a.Users...)
		total.More = total.More || a.More
		total.Top = addTop(total.Top, a.Top)
		total.Rooms = append(total.Rooms, a.Rooms...)
	}
	sort.Slice(total.Members, func(i, j int) bool { return total.Members[i].ConnID < total.Members[j].ConnID })
	return total, nil
}

// ConnectionCount is the number of connections in the cluster.
func (h *Hub) ConnectionCount(ctx context.Context) (int, error) {
	a, err := h.ask(ctx, query{Kind: "count"})
	return a.Count, err
}

// IsOnline reports whether the connection id is connected.
func (h *Hub) IsOnline(ctx context.Context, id string) (bool, error) {
	a, err := h.ask(ctx, query{Kind: "conn", Name: id})
	return a.Count > 0, err
}

// UserConnections is the number of connections bound to uid (0: offline).
func (h *Hub) UserConnections(ctx context.Context, uid string) (int, error) {
	a, err := h.ask(ctx, query{Kind: "user", Name: uid})
	return a.Count, err
}

// RoomCount is the number of connections in room.
func (h *Hub) RoomCount(ctx context.Context, room string) (int, error) {
	a, err := h.ask(ctx, query{Kind: "room", Name: room})
	return a.Count, err
}

// RoomMembers lists the connections in room, ordered by id.
func (h *Hub) RoomMembers(ctx context.Context, room string) ([]app.Member, error) {
	a, err := h.ask(ctx, query{Kind: "room", Name: room, List: true})
	out := make([]app.Member, len(a.Members))
	for i, m := range a.Members {
		out[i] = app.Member{ConnID: m.ConnID, UID: m.UID}
	}
	return out, err
}

// RoomUsers lists the users of room's members after the user id after
// ("" for the first page), at most limit of them. Each worker sends only
// its first limit, so a page costs the bus about limit names per worker
// however large the room.
func (h *Hub) RoomUsers(ctx context.Context, room, after string, limit int) (app.UserPage, error) {
	if limit <= 0 {
		return app.UserPage{}, errors.New("hub: room users: limit must be positive")
	}
	a, err := h.ask(ctx, query{Kind: "users", Name: room, After: after, Limit: limit})
	if err != nil {
		return app.UserPage{}, err
	}
	users := slices.Compact(slices.Sorted(slices.Values(a.Users)))
	p := app.UserPage{Users: users, More: a.More, Count: a.Count}
	if len(users) > limit {
		p.Users, p.More = users[:limit], true
	}
	return p, nil
}
