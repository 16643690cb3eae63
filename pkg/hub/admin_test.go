package hub

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// TestQuerierTopRoomsAndConnRooms: the admin page's questions add up the
// workers' rooms, largest first, bounded; and name one connection's rooms.
func TestQuerierTopRoomsAndConnRooms(t *testing.T) {
	e, ws2 := cluster(t, 2)
	a, b := ws2[0], ws2[1]
	ca1, ca2, cb := a.dial(t), a.dial(t), b.dial(t)
	for _, j := range []struct {
		w    *worker
		c    client
		room string
	}{{a, ca1, "big"}, {a, ca2, "big"}, {b, cb, "big"}, {a, ca1, "mid"}, {b, cb, "mid"}, {b, cb, "small"}} {
		must(t, j.w.hub.Join(j.c.conn, j.room))
	}
	bc, err := bus.Connect(context.Background(), bus.Options{URL: e.ClientURL(), Logger: slog.New(slog.DiscardHandler)})
	must(t, err)
	t.Cleanup(func() { bc.Close(context.Background()) })
	q, err := NewQuerier(bc, 0)
	must(t, err)
	t.Cleanup(q.Stop)
	ctx := context.Background()

	top, err := q.TopRooms(ctx, 2)
	if err != nil || fmt.Sprint(top) != "[{big 3} {mid 2}]" {
		t.Fatalf("TopRooms(2) = %v, %v; want big 3, mid 2", top, err)
	}
	if top, _ := q.TopRooms(ctx, 1000); len(top) != 3 {
		t.Fatalf("TopRooms(1000) = %v", top)
	}
	rooms, ok, err := q.ConnRooms(ctx, cb.conn.ID())
	if err != nil || !ok || fmt.Sprint(rooms) != "[big mid small]" {
		t.Fatalf("ConnRooms = %v, %v, %v", rooms, ok, err)
	}
	if _, ok, err := q.ConnRooms(ctx, "nobody-1-1"); err != nil || ok {
		t.Fatalf("ConnRooms of no connection: %v, %v", ok, err)
	}
}
