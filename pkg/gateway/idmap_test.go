package gateway

import (
	"slices"
	"testing"
)

// TestIDMap: ids of the server's own form are kept by number, every other
// id by its string, and each id finds exactly its own connection: no two
// ids share a key (a leading zero, a sign or another prefix is a
// different id, not the same number).
func TestIDMap(t *testing.T) {
	m := newIDMap("n1-42-")
	ids := []string{
		"n1-42-1", "n1-42-18446744073709551615", // own: by number
		"n1-42-01", "n1-42-+1", "n1-42-", "n1-42-18446744073709551616", // not canonical, or too large
		"n2-7-1", "1", "", "n1-42-1x", // another process's, or no form at all
	}
	for _, id := range ids {
		m.put(&Conn{id: id})
	}
	if m.len() != len(ids) {
		t.Fatalf("%d ids put, len %d", len(ids), m.len())
	}
	if len(m.own) != 2 {
		t.Errorf("%d ids kept by number, want 2", len(m.own))
	}
	for _, id := range ids {
		if c := m.get(id); c == nil || c.id != id {
			t.Errorf("get(%q) = %v", id, c)
		}
	}
	var seen []string
	for c := range m.all() {
		seen = append(seen, c.id)
	}
	slices.Sort(seen)
	want := slices.Sorted(slices.Values(ids))
	if !slices.Equal(seen, want) {
		t.Errorf("all yields %q, want %q", seen, want)
	}
	for _, id := range ids {
		m.del(&Conn{id: id})
		if m.get(id) != nil {
			t.Errorf("%q still there after del", id)
		}
	}
	if m.len() != 0 {
		t.Errorf("len %d after deleting every id", m.len())
	}
}
