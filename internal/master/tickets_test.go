package master

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/wsfleet/wsfleet/internal/certs"
	"github.com/wsfleet/wsfleet/internal/ctl"
)

// TestRotateTicketKeysReachesEveryWorker: a rotation sends every worker
// the new list, and a worker started on an older list is caught up.
func TestRotateTicketKeysReachesEveryWorker(t *testing.T) {
	tt := newTestTable(t, 3, defaultTimings)
	ring, err := certs.NewRing()
	if err != nil {
		t.Fatal(err)
	}
	m := &Master{log: slog.New(slog.NewTextHandler(io.Discard, nil)), tickets: ring}
	m.table.Store(tt.table)
	setup := m.ticketKeys()
	if setup.Gen != 1 || len(setup.Keys) != 1 {
		t.Fatalf("a worker's setup: generation %d, %d keys", setup.Gen, len(setup.Keys))
	}
	if err := m.RotateTicketKeys(context.Background()); err != nil {
		t.Fatal(err)
	}
	now := m.ticketKeys()
	if now.Gen != 2 || len(now.Keys) != 2 || string(now.Keys[1]) != string(setup.Keys[0]) {
		t.Fatalf("after a rotation: generation %d, %d keys", now.Gen, len(now.Keys))
	}
	for _, c := range m.children() {
		if want := fmt.Sprintf("%s %d", ctl.OpTicketKeys, c.pid); !slices.Contains(tt.j.all(), want) {
			t.Fatalf("no %q in %q", want, tt.j.all())
		}
	}

	late := newFakeProc(99, tt.j)
	if err := m.catchUpTicketKeys(context.Background(), late, now.Gen); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s %d", ctl.OpTicketKeys, 99)
	if slices.Contains(tt.j.all(), want) {
		t.Fatal("a worker started on the current keys was sent them again")
	}
	if err := m.catchUpTicketKeys(context.Background(), late, setup.Gen); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(tt.j.all(), want) {
		t.Fatal("a worker started before the rotation was not caught up")
	}

	if err := (&Master{}).RotateTicketKeys(context.Background()); err == nil {
		t.Fatal("a master without TLS rotated keys")
	}
}
