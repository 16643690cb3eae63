package gateway

import (
	"iter"
	"strconv"
	"strings"
)

// idMap is the server's registry of live connections by id. The ids this
// server makes are Options.IDPrefix and a decimal sequence number
// (newConn): those are kept by that number, a map entry of 16 bytes rather
// than a string's 24 (about 12 bytes less per idle connection once the
// map's spare room is counted, issue 16). Any other id (a connection
// handed over from another process, see Import) is kept by its string.
// An id maps to one key only, and back, so the two maps never disagree:
// a number key is taken only for the canonical decimal form (no sign, no
// leading zero).
type idMap struct {
	prefix string
	own    map[uint64]*Conn // ids of the form prefix + seq, by seq
	other  map[string]*Conn // every other id; nil until one comes
}

func newIDMap(prefix string) idMap {
	return idMap{prefix: prefix, own: make(map[uint64]*Conn)}
}

// seqOf returns the sequence number of an id of this server's form.
func (m *idMap) seqOf(id string) (uint64, bool) {
	rest, ok := strings.CutPrefix(id, m.prefix)
	if !ok || rest == "" || rest[0] < '1' || rest[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(rest, 10, 64)
	return n, err == nil
}

// get returns the connection with id, or nil.
func (m *idMap) get(id string) *Conn {
	if n, ok := m.seqOf(id); ok {
		return m.own[n]
	}
	return m.other[id]
}

// put registers c under its id, replacing whatever had it.
func (m *idMap) put(c *Conn) {
	if n, ok := m.seqOf(c.id); ok {
		m.own[n] = c
		return
	}
	if m.other == nil {
		m.other = make(map[string]*Conn)
	}
	m.other[c.id] = c
}

// del forgets the connection with c's id.
func (m *idMap) del(c *Conn) {
	if n, ok := m.seqOf(c.id); ok {
		delete(m.own, n)
		return
	}
	delete(m.other, c.id)
}

// len is the number of connections.
func (m *idMap) len() int { return len(m.own) + len(m.other) }

// all yields every connection, in map order.
func (m *idMap) all() iter.Seq[*Conn] {
	return func(yield func(*Conn) bool) {
		for _, c := range m.own {
			if !yield(c) {
				return
			}
		}
		for _, c := range m.other {
			if !yield(c) {
				return
			}
		}
	}
}
