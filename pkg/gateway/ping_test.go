package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestPingerPingsEveryConnection: with the pings spread over the interval,
// every connection still gets one.
func TestPingerPingsEveryConnection(t *testing.T) {
	s, url := startServer(t, Options{PingInterval: 160 * time.Millisecond}, &echo{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunPinger(ctx)
	}()
	defer func() { cancel(); <-done }()
	const n = 40
	pinged := make(chan error, n)
	for range n {
		c := dial(t, url) // reads end by its 10 s deadline at worst
		go func() {
			for {
				h, err := ws.ReadHeader(c)
				if err != nil {
					pinged <- err
					return
				}
				if h.OpCode == ws.OpPing {
					pinged <- nil
					return
				}
			}
		}()
	}
	for range n {
		if err := <-pinged; err != nil {
			t.Fatalf("no ping: %v", err)
		}
	}
}

// TestPingSlicesSpread: connections opened a microsecond apart fall in
// every slice of the interval.
func TestPingSlicesSpread(t *testing.T) {
	seen := make(map[int64]bool)
	base := time.Now().UnixNano()
	for i := range int64(pingSlices) {
		c := &Conn{created: base + i*1000}
		seen[c.pingSlice()] = true
	}
	if len(seen) != pingSlices {
		t.Fatalf("%d connections 1 µs apart fell in %d slices, want %d", pingSlices, len(seen), pingSlices)
	}
}

// TestPingerOff: with PingInterval negative (`-ping-interval 0` on the
// command line), RunPinger returns at once, on a context that never ends,
// so no connection is ever pinged.
func TestPingerOff(t *testing.T) {
	s := New(Options{PingInterval: -1}, &echo{}, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.RunPinger(context.Background())
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunPinger with pings off is still running after 10 s")
	}
}
