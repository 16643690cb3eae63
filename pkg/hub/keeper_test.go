package hub

import (
	"testing"

	"github.com/wsfleet/wsfleet/pkg/app"
)

// TestKeeperBounds: the keeper holds at most maxKeepQueue messages and
// maxKeepBytes bytes; past either it refuses, saying so once until it
// empties; it gives them back in order.
func TestKeeperBounds(t *testing.T) {
	k := newKeeper()
	for i := range maxKeepQueue {
		if ok, _ := k.add(keepJob{room: "r", m: app.Message{Data: []byte{byte(i)}}}); !ok {
			t.Fatalf("message %d refused under the bound", i)
		}
	}
	if ok, first := k.add(keepJob{m: app.Message{Data: []byte("x")}}); ok || !first {
		t.Fatalf("past the count bound: ok %v first %v, want refused, first", ok, first)
	}
	if ok, first := k.add(keepJob{m: app.Message{Data: []byte("x")}}); ok || first {
		t.Fatalf("past the count bound again: ok %v first %v, want refused, not first", ok, first)
	}
	for i := range maxKeepQueue {
		j, ok := k.head()
		if !ok || j.m.Data[0] != byte(i) {
			t.Fatalf("head %d: %v %v", i, j.m.Data, ok)
		}
		k.pop()
	}
	if k.busy() || k.bytes != 0 || k.full {
		t.Fatalf("emptied keeper: busy %v bytes %d full %v", k.busy(), k.bytes, k.full)
	}
	if ok, _ := k.add(keepJob{m: app.Message{Data: make([]byte, maxKeepBytes+1)}}); ok {
		t.Fatal("a message past the byte bound was queued")
	}
}
