package worker

import (
	"sync"
	"sync/atomic"

	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// Bounds of the mailboxes (issue 10: three connections sending 10 MiB
// messages to a blocking application took a worker past 2 GiB, as a
// mailbox was bounded only by its count of messages). A connection over
// one of them is closed with 1013 (try again later) rather than growing the
// worker's memory. A message is always taken when nothing waits before it,
// so a client that waits for its answers is never closed for one message
// within -max-message.
const (
	// maxPending bounds the callbacks waiting for one connection.
	maxPending = 256
	// maxPendingBytes bounds the message bytes waiting for one connection.
	maxPendingBytes = 1 << 20
	// maxWorkerPendingBytes bounds the message bytes waiting in all the
	// mailboxes of a worker.
	maxWorkerPendingBytes = 64 << 20
)

// budget counts the bytes waiting in a worker's mailboxes.
type budget struct {
	used   atomic.Int64
	closes atomic.Uint64 // connections closed with 1013 for a full mailbox (metrics)
}

// take reserves n bytes; it reports false, reserving nothing, when that
// would pass the worker's bound, unless force.
func (b *budget) take(n int, force bool) bool {
	if b.used.Add(int64(n)) > maxWorkerPendingBytes && !force {
		b.used.Add(-int64(n))
		return false
	}
	return true
}

func (b *budget) release(n int) { b.used.Add(-int64(n)) }

// mailbox runs one connection's application callbacks in order on a
// goroutine that exists only while there is work. The gateway calls
// OnMessage and OnClose on a poller shared by thousands of connections,
// where nothing may block; an application that does (a presence query, a
// join's round trip to NATS) runs here instead and stalls only its own
// connection. Applications that never block (app.Inline) skip it.
type mailbox struct {
	wg      *sync.WaitGroup // the worker's: stop waits for every mailbox
	budget  *budget         // the worker's
	mu      sync.Mutex
	queue   []job
	bytes   int // of the jobs queued or running
	running bool
}

// job is one callback and the message bytes it holds.
type job struct {
	f    func()
	size int
}

// post queues f, which holds size bytes of message; it reports false when
// the connection, or the worker, has too much pending.
func (m *mailbox) post(f func(), size int) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	first := len(m.queue) == 0
	if len(m.queue) >= maxPending || !first && m.bytes+size > maxPendingBytes {
		return false
	}
	if !m.budget.take(size, first) {
		return false
	}
	m.pushLocked(job{f, size})
	return true
}

// postLast queues f, the connection's last callback, after the messages
// waiting; if the mailbox is full, it drops them first: they would never be
// answered, and the last word must still be said.
func (m *mailbox) postLast(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queue) < maxPending {
		m.pushLocked(job{f: f})
		return
	}
	for i, j := range m.queue {
		m.bytes -= j.size
		m.budget.release(j.size)
		m.queue[i] = job{}
	}
	m.queue = m.queue[:0]
	m.pushLocked(job{f: f})
}

func (m *mailbox) pushLocked(j job) {
	m.queue = append(m.queue, j)
	m.bytes += j.size
	if !m.running {
		m.running = true
		m.wg.Add(1)
		go m.run()
	}
}

func (m *mailbox) run() {
	defer m.wg.Done()
	for {
		m.mu.Lock()
		if len(m.queue) == 0 {
			m.running = false
			m.queue = nil // an idle connection keeps no queue
			m.mu.Unlock()
			return
		}
		j := m.queue[0]
		m.queue[0] = job{}
		m.queue = m.queue[1:]
		m.mu.Unlock()
		j.f()
		// The message is released once its callback is done with it.
		m.mu.Lock()
		m.bytes -= j.size
		m.mu.Unlock()
		m.budget.release(j.size)
	}
}

// overloaded closes a connection whose mailbox is full.
func overloaded(c *gateway.Conn) {
	c.Close(gateway.StatusTryAgainLater, "too many messages pending")
}
