package gateway

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
)

// Broadcast sends one message to every connection except the one whose id is
// exclude (if any), encoding the frame once. It returns how many connections
// it was queued for. Its writes are spread over a few goroutines when there
// are many connections.
func (s *Server) Broadcast(op ws.OpCode, data []byte, exclude string) int {
	f := PrepareFrame(op, data)
	return fanOut(s.snapshot(), func(c *Conn) bool {
		return c.id != exclude && c.SendFrame(f) == nil
	})
}

// fanOutChunk is how many connections one goroutine of a fan-out serves at
// least: below it, a goroutine costs more than the writes it spreads.
const fanOutChunk = 512

// fanOut calls f for every connection in cs and counts the trues. With
// many connections it splits cs over up to GOMAXPROCS goroutines (each
// write is a non-blocking syscall on the caller's goroutine) and waits for
// them.
func fanOut(cs []*Conn, f func(*Conn) bool) int {
	k := min(runtime.GOMAXPROCS(0), len(cs)/fanOutChunk)
	if k <= 1 {
		return count(cs, f)
	}
	var wg sync.WaitGroup
	var n atomic.Int64
	per := (len(cs) + k - 1) / k
	for i := 0; i < len(cs); i += per {
		part := cs[i:min(i+per, len(cs))]
		wg.Go(func() { n.Add(int64(count(part, f))) })
	}
	wg.Wait()
	return int(n.Load())
}

func count(cs []*Conn, f func(*Conn) bool) int {
	n := 0
	for _, c := range cs {
		if f(c) {
			n++
		}
	}
	return n
}
