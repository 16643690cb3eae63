package hub

import (
	"fmt"
	"testing"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// TestCutSeen: a message is the old worker's when its publisher's
// sequence (or, from JetStream, its kept offset) is at or below the cut;
// an unstamped message is never replayed and never filtered.
func TestCutSeen(t *testing.T) {
	cut := Cut{"a": 5, CutOffset: 40}
	for _, c := range []struct {
		m          bus.Message
		seen, play bool
	}{
		{bus.Message{Pub: "a", Seq: 5}, true, false},
		{bus.Message{Pub: "a", Seq: 6}, false, true},
		{bus.Message{Pub: "b", Seq: 1}, false, true},             // a publisher the old worker never delivered
		{bus.Message{Pub: "a", Seq: 9, Offset: 3}, true, false},  // a kept copy goes by its offset where the old worker followed
		{bus.Message{Pub: "a", Seq: 4, Offset: 41}, false, true}, // ... both ways
		{bus.Message{Offset: 40}, true, false},
		{bus.Message{Offset: 41}, false, true},
		{bus.Message{}, false, false},
	} {
		if got := cut.seen(c.m); got != c.seen {
			t.Errorf("%+v: seen %v", c.m, got)
		}
		if got := cut.replayable(c.m); got != c.play {
			t.Errorf("%+v: replayable %v", c.m, got)
		}
	}
	if (Cut(nil)).seen(bus.Message{Pub: "a", Seq: 1}) {
		t.Error("no cut filtered a message")
	}
	if !(Cut{"a": 5}).seen(bus.Message{Pub: "a", Seq: 5, Offset: 99}) {
		t.Error("without an offset cut, a kept copy did not go by its stamp")
	}
}

// TestStreamBounds: whatever publishers send, a tracking stream keeps at
// most MaxCutPublishers positions (past them it is inexact: its
// connections stay), and a receiving worker's buffers at most
// maxBufferBytes (past it the stream refuses connections); clearing gives
// the bytes back.
func TestStreamBounds(t *testing.T) {
	h := New(Options{})
	var s stream
	h.tracking.Store(true)
	for i := range MaxCutPublishers + 10 {
		h.afterLocked(&s, bus.Message{Pub: fmt.Sprintf("p%d", i), Seq: 1})
	}
	if len(s.pos) != MaxCutPublishers || !s.posOver {
		t.Fatalf("%d positions, over %v", len(s.pos), s.posOver)
	}
	if _, ok := s.cutLocked(false); ok {
		t.Fatal("an inexact stream gave a cut")
	}
	h.Track(false)

	h.buffering.Store(true)
	big := make([]byte, 1<<20)
	var a, b stream
	for range maxBufferBytes>>20 + 2 {
		h.beforeLocked(&a, bus.Message{Data: big, Pub: "x", Seq: 1}, "")
	}
	if !a.bufOver || h.bufBytes.Load() > maxBufferBytes {
		t.Fatalf("buffered %d bytes, over %v", h.bufBytes.Load(), a.bufOver)
	}
	h.beforeLocked(&b, bus.Message{Data: big}, "")
	if !b.bufOver {
		t.Fatal("a second stream buffered past the worker's bound")
	}
	h.clearBufLocked(&a)
	h.clearBufLocked(&b)
	if h.bufBytes.Load() != 0 || h.bufMsgs.Load() != 0 || a.bufOver {
		t.Fatalf("after clearing: %d bytes, %d messages", h.bufBytes.Load(), h.bufMsgs.Load())
	}
}
