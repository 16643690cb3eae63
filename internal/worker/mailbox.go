package worker

import (
	"sync"

	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// maxPending bounds the callbacks waiting for one connection: a client that
// sends faster than a blocking application handles its messages is closed
// with 1013 (try again later) rather than growing the worker's memory.
const maxPending = 256

// mailbox runs one connection's application callbacks in order on a
// goroutine that exists only while there is work. The gateway calls
// OnMessage and OnClose on a poller shared by thousands of connections,
// where nothing may block; an application that does (a presence query, a
// join's round trip to NATS) runs here instead and stalls only its own
// connection. Applications that never block (app.Inline) skip it.
type mailbox struct {
	wg      *sync.WaitGroup // the worker's: stop waits for every mailbox
	mu      sync.Mutex
	queue   []func()
	running bool
}

// post queues f; it reports false when the connection has too much
// pending.
func (m *mailbox) post(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.queue) >= maxPending {
		return false
	}
	m.queue = append(m.queue, f)
	if !m.running {
		m.running = true
		m.wg.Add(1)
		go m.run()
	}
	return true
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
		f := m.queue[0]
		m.queue[0] = nil
		m.queue = m.queue[1:]
		m.mu.Unlock()
		f()
	}
}

// overloaded closes a connection whose mailbox is full.
func overloaded(c *gateway.Conn) {
	c.Close(gateway.StatusTryAgainLater, "too many messages pending")
}
