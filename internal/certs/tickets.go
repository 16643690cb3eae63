package certs

import (
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
)

// TicketKeySize is the length of a session ticket key
// (tls.Config.SetSessionTicketKeys).
const TicketKeySize = 32

// Ring is a cluster's session ticket keys, owned by its master: the
// newest first, which encrypts new tickets, then the one before it, which
// still decrypts the tickets issued before the last rotation. Every
// worker of the master serves the same list, so a client resumes on
// whichever worker SO_REUSEPORT hands its reconnect to. The keys live in
// memory only. Safe for concurrent use.
type Ring struct {
	mu   sync.Mutex
	gen  uint64
	keys [][TicketKeySize]byte // newest first, at most 2
}

// NewRing returns a ring holding one fresh key (generation 1).
func NewRing() (*Ring, error) {
	r := &Ring{}
	if err := r.Rotate(); err != nil {
		return nil, err
	}
	return r, nil
}

// Rotate makes a new key, puts it first and keeps the newest previous
// one behind it; the older ones are dropped, so the tickets they
// encrypted no longer resume.
func (r *Ring) Rotate() error {
	var k [TicketKeySize]byte
	if _, err := rand.Read(k[:]); err != nil {
		return fmt.Errorf("certs: session ticket key: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := [][TicketKeySize]byte{k}
	if len(r.keys) > 0 {
		keys = append(keys, r.keys[0])
	}
	r.keys = keys
	r.gen++
	return nil
}

// Keys returns the generation and a copy of the keys, newest first.
func (r *Ring) Keys() (uint64, [][]byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([][]byte, len(r.keys))
	for i, k := range r.keys {
		out[i] = append([]byte(nil), k[:]...)
	}
	return r.gen, out
}

// SetTicketKeys makes the store's configuration encrypt new session
// tickets with keys[0] and accept tickets made with any of keys. gen is
// the master's generation of the list: a list older than the one set
// already (a push overtaken by a later one) is ignored. It survives
// Reload, which only rereads the certificate.
func (s *Store) SetTicketKeys(gen uint64, keys [][]byte) error {
	if len(keys) == 0 {
		return errors.New("certs: no session ticket keys")
	}
	tk := make([][TicketKeySize]byte, len(keys))
	for i, k := range keys {
		if len(k) != TicketKeySize {
			return fmt.Errorf("certs: session ticket key %d: %d bytes, want %d", i, len(k), TicketKeySize)
		}
		copy(tk[i][:], k)
	}
	s.ticketMu.Lock()
	defer s.ticketMu.Unlock()
	if gen < s.ticketGen {
		return nil
	}
	s.ticketGen = gen
	s.conf.SetSessionTicketKeys(tk)
	return nil
}

// TicketGen is the generation of the keys set last (0: none, each
// handshake's config has its own random keys).
func (s *Store) TicketGen() uint64 {
	s.ticketMu.Lock()
	defer s.ticketMu.Unlock()
	return s.ticketGen
}
