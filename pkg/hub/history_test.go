package hub

import (
	"testing"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// TestHeldBounds: what a join since a position holds back is bounded per
// connection (count and bytes) and per worker; past a bound it is marked
// over (the join answers recovered false) and holds no more.
func TestHeldBounds(t *testing.T) {
	h := New(Options{})
	g := &group{members: map[*gateway.Conn]struct{}{}}
	c := new(gateway.Conn)
	g.hold(c)
	for i := range 2000 {
		if !h.heldLocked(g, c, bus.Message{Data: make([]byte, 10), Offset: uint64(i + 1)}) {
			t.Fatal("a held connection's message was not held back")
		}
	}
	hb := g.held[c]
	if len(hb.msgs) != maxHeldMessages || !hb.over || h.heldBytes.Load() != 10*maxHeldMessages {
		t.Fatalf("held %d messages, over %v, worker bytes %d", len(hb.msgs), hb.over, h.heldBytes.Load())
	}
	h.unholdLocked(g, c)
	if h.heldBytes.Load() != 0 || g.held[c] != nil {
		t.Fatalf("after unhold: worker bytes %d", h.heldBytes.Load())
	}

	g.hold(c)
	h.heldLocked(g, c, bus.Message{Data: make([]byte, maxHeldBytes-10)})
	h.heldLocked(g, c, bus.Message{Data: make([]byte, 11)})
	if hb := g.held[c]; len(hb.msgs) != 1 || !hb.over {
		t.Fatalf("byte bound: held %d, over %v", len(hb.msgs), hb.over)
	}
	h.unholdLocked(g, c)

	d := new(gateway.Conn)
	g.hold(d)
	h.heldBytes.Store(maxHeldWorker - 5)
	h.heldLocked(g, d, bus.Message{Data: make([]byte, 6)})
	if hb := g.held[d]; len(hb.msgs) != 0 || !hb.over {
		t.Fatalf("worker bound: held %d, over %v", len(hb.msgs), hb.over)
	}
	if h.heldLocked(g, new(gateway.Conn), bus.Message{}) {
		t.Fatal("a connection not held was held back")
	}
}
