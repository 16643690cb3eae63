package hub

import (
	"errors"
	"testing"

	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// TestRehold: a connection already bound to its user is held again for a
// resume, once at a time: a second resume while the first holds is
// refused (the held bytes would be counted twice), and so is a user the
// worker has no group of.
func TestRehold(t *testing.T) {
	h := New(Options{})
	c := new(gateway.Conn)
	g := &group{kind: userKind, name: "bob", members: map[*gateway.Conn]struct{}{c: {}}}
	h.users["bob"] = g
	if got, err := h.rehold(c, "bob"); err != nil || got != g || g.held[c] == nil {
		t.Fatalf("rehold: %v %v", got, err)
	}
	if _, err := h.rehold(c, "bob"); !errors.Is(err, errResuming) {
		t.Fatalf("second rehold: %v", err)
	}
	h.unholdLocked(g, c)
	if _, err := h.rehold(c, "bob"); err != nil {
		t.Fatalf("rehold after release: %v", err)
	}
	if _, err := h.rehold(c, "ann"); err == nil {
		t.Fatal("rehold of a user without a group")
	}
}

// TestUserHistoryNeedsApp: without a store, or in an app that keeps no
// user history (no FormatKeptUser), no user has history.
func TestUserHistoryNeedsApp(t *testing.T) {
	if New(Options{}).HasUserHistory("bob") {
		t.Fatal("history without a store")
	}
}
