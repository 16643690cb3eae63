package certs

import (
	"bytes"
	"crypto/tls"
	"sync"
	"testing"
)

func TestRingKeepsNewestThenPrevious(t *testing.T) {
	r, err := NewRing()
	if err != nil {
		t.Fatal(err)
	}
	gen1, k1 := r.Keys()
	if gen1 != 1 || len(k1) != 1 || len(k1[0]) != TicketKeySize {
		t.Fatalf("new ring: gen %d, %d keys", gen1, len(k1))
	}
	if err := r.Rotate(); err != nil {
		t.Fatal(err)
	}
	gen2, k2 := r.Keys()
	if gen2 != 2 || len(k2) != 2 || !bytes.Equal(k2[1], k1[0]) || bytes.Equal(k2[0], k1[0]) {
		t.Fatalf("after a rotation: gen %d, %d keys, previous second: %v", gen2, len(k2), len(k2) == 2 && bytes.Equal(k2[1], k1[0]))
	}
	r.Rotate()
	gen3, k3 := r.Keys()
	if gen3 != 3 || len(k3) != 2 || !bytes.Equal(k3[1], k2[0]) {
		t.Fatalf("after two rotations: gen %d, %d keys", gen3, len(k3))
	}
	k3[0][0] ^= 1 // a copy: the ring's keys do not change
	if _, again := r.Keys(); bytes.Equal(again[0], k3[0]) {
		t.Fatal("Keys returned the ring's own slice")
	}
}

// servePair serves a and b on two listeners, as two workers of one master would:
// each accepts a TLS connection, writes a byte (so the client gets its
// TLS 1.3 ticket) and closes.
func servePair(t *testing.T, a, b *Store) (string, string) {
	t.Helper()
	addr := func(s *Store) string {
		var wg sync.WaitGroup
		ln, err := tls.Listen("tcp", "127.0.0.1:0", s.Config())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close(); wg.Wait() })
		wg.Go(func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				c.Write([]byte{1})
				c.Read(make([]byte, 1))
				c.Close()
			}
		})
		return ln.Addr().String()
	}
	return addr(a), addr(b)
}

// resumes dials addr with cache and says whether the session resumed.
func resumes(t *testing.T, addr string, cache tls.ClientSessionCache) bool {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "wsfleet", ClientSessionCache: cache})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 1)); err != nil { // the ticket comes before it
		t.Fatal(err)
	}
	return c.ConnectionState().DidResume
}

func TestTicketKeysResumeAcrossStoresAndOneRotation(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir, "w")
	a, err := Load(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	// Without shared keys each store has its own: no resumption across.
	addrA, addrB := servePair(t, a, b)
	cache := tls.NewLRUClientSessionCache(4)
	resumes(t, addrA, cache)
	if resumes(t, addrB, cache) {
		t.Fatal("resumed with another store's ticket without shared keys")
	}

	ring, err := NewRing()
	if err != nil {
		t.Fatal(err)
	}
	set := func(s *Store) {
		gen, keys := ring.Keys()
		if err := s.SetTicketKeys(gen, keys); err != nil {
			t.Fatal(err)
		}
	}
	set(a)
	set(b)
	cache = tls.NewLRUClientSessionCache(4)
	resumes(t, addrA, cache) // a ticket under key 1
	if !resumes(t, addrB, cache) {
		t.Fatal("no resumption on the other store with the same keys")
	}
	if err := a.Reload(); err != nil { // a certificate reread keeps the keys
		t.Fatal(err)
	}
	if !resumes(t, addrA, cache) {
		t.Fatal("no resumption after a certificate reload")
	}

	// One rotation: [2, 1]; a ticket made under key 1 still resumes.
	// A resumption brings a new ticket under the newest key, so each
	// check uses a cache holding one ticket made under a known key.
	under1, under1b := tls.NewLRUClientSessionCache(4), tls.NewLRUClientSessionCache(4)
	resumes(t, addrA, under1)
	resumes(t, addrA, under1b)
	ring.Rotate()
	set(a)
	set(b)
	if !resumes(t, addrB, under1) {
		t.Fatal("a ticket from before one rotation did not resume")
	}
	under2 := tls.NewLRUClientSessionCache(4)
	if resumes(t, addrA, under2) {
		t.Fatal("an empty cache resumed")
	}
	// Two rotations: [3, 2]; key 1's tickets no longer resume, key 2's do.
	ring.Rotate()
	set(a)
	set(b)
	if !resumes(t, addrB, under2) {
		t.Fatal("a ticket from before the last rotation did not resume")
	}
	if resumes(t, addrB, under1b) {
		t.Fatal("a ticket from two rotations ago resumed")
	}

	// A push overtaken by a newer one is ignored; a bad key is refused.
	if err := b.SetTicketKeys(1, [][]byte{make([]byte, TicketKeySize)}); err != nil || b.TicketGen() != 3 {
		t.Fatalf("an older list: %v, generation %d", err, b.TicketGen())
	}
	if !resumes(t, addrB, under2) {
		t.Fatal("an older list replaced the current keys")
	}
	if err := b.SetTicketKeys(4, [][]byte{make([]byte, 16)}); err == nil {
		t.Fatal("a 16-byte key accepted")
	}
	if err := b.SetTicketKeys(4, nil); err == nil {
		t.Fatal("an empty list accepted")
	}
}
