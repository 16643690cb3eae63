package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
)

// Member is one connection in a room.
type Member struct {
	ConnID string `json:"conn"`
	// UID is the user the connection is bound to, or "".
	UID string `json:"uid,omitempty"`
}

// query is a presence question, asked of every worker.
type query struct {
	Kind string `json:"kind"` // count, room, user, conn
	Name string `json:"name,omitempty"`
	List bool   `json:"list,omitempty"`
}

// answer is one worker's reply.
type answer struct {
	Count   int      `json:"count"`
	Members []Member `json:"members,omitempty"`
}

// answer replies for this worker's own connections.
func (h *Hub) answer(raw []byte) []byte {
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
			}
		case "room":
			if g := h.rooms[q.Name]; g != nil {
				a.Count = len(g.members)
				if q.List {
					for c := range g.members {
						a.Members = append(a.Members, Member{ConnID: c.ID(), UID: h.state[c].uid})
					}
				}
			}
		}
		h.mu.RUnlock()
	}
	b, _ := json.Marshal(a) // plain struct: cannot fail
	return b
}

// ask puts q to every live worker and adds up the answers.
func (h *Hub) ask(ctx context.Context, q query) (answer, error) {
	raw, _ := json.Marshal(q) // plain struct: cannot fail
	replies, err := h.opts.Bus.Gather(ctx, raw, len(h.peers.Live()), h.opts.QueryTimeout)
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
	}
	sort.Slice(total.Members, func(i, j int) bool { return total.Members[i].ConnID < total.Members[j].ConnID })
	return total, nil
}

// Count is the number of connections in the cluster.
func (h *Hub) Count(ctx context.Context) (int, error) {
	a, err := h.ask(ctx, query{Kind: "count"})
	return a.Count, err
}

// Online reports whether the connection id is connected.
func (h *Hub) Online(ctx context.Context, id string) (bool, error) {
	a, err := h.ask(ctx, query{Kind: "conn", Name: id})
	return a.Count > 0, err
}

// UserCount is the number of connections bound to uid (0: offline).
func (h *Hub) UserCount(ctx context.Context, uid string) (int, error) {
	a, err := h.ask(ctx, query{Kind: "user", Name: uid})
	return a.Count, err
}

// RoomCount is the number of connections in room.
func (h *Hub) RoomCount(ctx context.Context, room string) (int, error) {
	a, err := h.ask(ctx, query{Kind: "room", Name: room})
	return a.Count, err
}

// RoomMembers lists the connections in room, ordered by id.
func (h *Hub) RoomMembers(ctx context.Context, room string) ([]Member, error) {
	a, err := h.ask(ctx, query{Kind: "room", Name: room, List: true})
	return a.Members, err
}
