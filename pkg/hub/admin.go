package hub

import (
	"cmp"
	"context"
	"slices"
)

// The admin page's presence questions (issue 17): the rooms with the most
// members, and the rooms of one connection.

// RoomCount is a room and its members.
type RoomCount struct {
	Room  string `json:"room"`
	Count int    `json:"count"`
}

// maxTop bounds a "top" query's n: what one worker answers.
const maxTop = 100

// answerAdminLocked answers "top" (this worker's q.Limit largest rooms)
// and "connrooms" (the rooms of connection q.Name, if it is this
// worker's). h.mu is held.
func (h *Hub) answerAdminLocked(q query, a *answer) {
	switch q.Kind {
	case "top":
		n := min(max(q.Limit, 1), maxTop)
		top := make([]RoomCount, 0, n+1)
		// Ordered by members, then name: which rooms of a tie make the cut
		// does not depend on the map's order.
		before := func(r, o RoomCount) int {
			return cmp.Or(cmp.Compare(o.Count, r.Count), cmp.Compare(r.Room, o.Room))
		}
		for name, g := range h.rooms {
			rc := RoomCount{Room: name, Count: len(g.members)}
			if len(top) == n && before(rc, top[n-1]) >= 0 {
				continue
			}
			i, _ := slices.BinarySearchFunc(top, rc, before)
			top = slices.Insert(top, i, rc)
			if len(top) > n {
				top = top[:n]
			}
		}
		a.Top = top
	case "connrooms":
		c := h.opts.Conns.Lookup(q.Name)
		if c == nil {
			return
		}
		a.Count = 1
		if ms := h.state[c]; ms != nil {
			for r := range ms.rooms {
				a.Rooms = append(a.Rooms, r)
			}
		}
	}
}

// addTop adds one worker's top rooms to a sum over workers.
func addTop(total, more []RoomCount) []RoomCount {
	for _, r := range more {
		i := slices.IndexFunc(total, func(t RoomCount) bool { return t.Room == r.Room })
		if i < 0 {
			total = append(total, r)
			continue
		}
		total[i].Count += r.Count
	}
	return total
}

// sortTop orders rooms by members, then name, and keeps n.
func sortTop(rooms []RoomCount, n int) []RoomCount {
	slices.SortFunc(rooms, func(a, b RoomCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Room, b.Room))
	})
	return rooms[:min(len(rooms), n)]
}

// TopRooms is the cluster's n rooms with the most members (n at most 100),
// largest first. Each worker names its own n largest and their counts are
// added up, so a room spread thinly over many workers may be missed or
// undercounted: it is an operator's overview, not an exact ranking.
func (q *Querier) TopRooms(ctx context.Context, n int) ([]RoomCount, error) {
	n = min(max(n, 1), maxTop)
	a, err := q.ask(ctx, query{Kind: "top", Limit: n})
	return sortTop(a.Top, n), err
}

// ConnRooms is the rooms of connection id, sorted, and whether a worker
// holds it.
func (q *Querier) ConnRooms(ctx context.Context, id string) ([]string, bool, error) {
	a, err := q.ask(ctx, query{Kind: "connrooms", Name: id})
	slices.Sort(a.Rooms)
	return a.Rooms, a.Count > 0, err
}
