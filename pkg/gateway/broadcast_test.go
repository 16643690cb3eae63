package gateway

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// registry fills a server's registry with n connections whose descriptors
// are 3n/2 distinct values in random order, and goroutine connections
// without one (-1); they have no socket and are never written.
func registry(n, goroutines int) *Server {
	s := New(Options{PingInterval: -1}, &echo{}, nil)
	fds := rand.New(rand.NewPCG(1, 2)).Perm(n * 3 / 2)[:n]
	for i := range n + goroutines {
		id := strconv.Itoa(i)
		fd := int32(-1)
		if i < n {
			fd = int32(fds[i])
		}
		s.conns.put(&Conn{id: id, fd: fd})
	}
	return s
}

// TestSnapshotInDescriptorOrder: a broadcast writes to the sockets in
// descriptor order, every connection once.
func TestSnapshotInDescriptorOrder(t *testing.T) {
	for _, tc := range []struct{ polled, goroutines int }{{1000, 0}, {1000, 7}, {0, 5}, {0, 0}, {1, 0}} {
		s := registry(tc.polled, tc.goroutines)
		cs := s.snapshot()
		seen := map[string]bool{}
		for _, c := range cs {
			seen[c.id] = true
		}
		if len(cs) != s.conns.len() || len(seen) != s.conns.len() {
			t.Fatalf("%+v: snapshot has %d connections (%d distinct), want %d", tc, len(cs), len(seen), s.conns.len())
		}
		if !slices.IsSortedFunc(cs, func(a, b *Conn) int { return int(a.fd - b.fd) }) {
			t.Errorf("%+v: snapshot is not in descriptor order", tc)
		}
	}
}

// TestSnapshotKeepsReusedDescriptor: a finished connection whose socket is
// closed but which has not left the registry yet, and a new connection the
// kernel gave the same descriptor, are both in the snapshot.
func TestSnapshotKeepsReusedDescriptor(t *testing.T) {
	for range 20 { // map order decides which of the two is seen first
		s := registry(100, 3)
		s.conns.put(&Conn{id: "finished", fd: 42})
		s.conns.put(&Conn{id: "new", fd: 42})
		cs := s.snapshot()
		seen := map[string]int{}
		for _, c := range cs {
			seen[c.id]++
		}
		if len(cs) != s.conns.len() || len(seen) != s.conns.len() || seen["finished"] != 1 || seen["new"] != 1 {
			t.Fatalf("snapshot has %d connections (%d distinct; finished %d, new %d), want %d",
				len(cs), len(seen), seen["finished"], seen["new"], s.conns.len())
		}
	}
}

// BenchmarkSnapshot is the registry copy a broadcast starts with, at one
// worker's share of 50k connections over 4 workers.
func BenchmarkSnapshot(b *testing.B) {
	s := registry(12500, 0)
	for b.Loop() {
		s.snapshot()
	}
}
