package hub

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// TestQuerierFromOutside: a Querier that is no worker (a master's HTTP
// API) gets every worker's answer: a user's connections on two workers,
// a room's members with their users, counts. No worker waits for it.
func TestQuerierFromOutside(t *testing.T) {
	e, ws3 := cluster(t, 3)
	a, b, c := ws3[0], ws3[1], ws3[2]
	ca, cb, cc := a.dial(t), b.dial(t), c.dial(t)
	must(t, a.hub.Bind(ca.conn, "ann"))
	must(t, c.hub.Bind(cc.conn, "ann"))
	must(t, b.hub.Join(cb.conn, "lobby"))
	must(t, c.hub.Join(cc.conn, "lobby"))

	bc, err := bus.Connect(context.Background(), bus.Options{URL: e.ClientURL(), Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	t.Cleanup(func() { bc.Close(context.Background()) })
	q, err := NewQuerier(bc, 0)
	must(t, err)
	t.Cleanup(q.Stop)
	ctx := context.Background()

	conns, err := q.UserConns(ctx, "ann")
	if want := fmt.Sprint(sorted(ca.conn.ID(), cc.conn.ID())); err != nil || fmt.Sprint(conns) != want {
		t.Fatalf("UserConns(ann) = %v, %v; want %v", conns, err, want)
	}
	if conns, err := q.UserConns(ctx, "bob"); err != nil || len(conns) != 0 {
		t.Fatalf("UserConns(bob) = %v, %v", conns, err)
	}
	ms, err := q.RoomMembers(ctx, "lobby")
	if err != nil || len(ms) != 2 {
		t.Fatalf("RoomMembers = %v, %v", ms, err)
	}
	for _, m := range ms {
		if m.ConnID == cc.conn.ID() && m.UID != "ann" || m.ConnID == cb.conn.ID() && m.UID != "" {
			t.Fatalf("RoomMembers = %+v: wrong users", ms)
		}
	}
	if n, err := q.RoomCount(ctx, "lobby"); err != nil || n != 2 {
		t.Fatalf("RoomCount = %d, %v", n, err)
	}
	if n, err := q.ConnectionCount(ctx); err != nil || n != 3 {
		t.Fatalf("ConnectionCount = %d, %v", n, err)
	}
	// The querier announced nothing: the workers still count three peers.
	if n := len(a.hub.peers.Live()); n != 3 {
		t.Fatalf("a worker counts %d peers, want 3", n)
	}
}

func sorted(a, b string) []string {
	if b < a {
		a, b = b, a
	}
	return []string{a, b}
}
