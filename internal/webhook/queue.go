package webhook

import (
	"encoding/json"
	"fmt"
	"sync"
)

// Bounds of a connection's queue. A connection whose client sends faster
// than the backend answers fills it; the worker then closes it with 1013
// (try again later), as it does when an application's mailbox is full. The
// first event of an empty queue is always taken, so a client that waits
// for its answers is never closed.
const (
	// MaxQueued bounds the events waiting for one connection.
	MaxQueued = 64
	// MaxQueuedBytes bounds the bodies waiting for one connection.
	MaxQueuedBytes = 1 << 20
	// MaxPendingBytes bounds the bodies waiting in all the queues of a
	// Client.
	MaxPendingBytes = 64 << 20
)

// Queue sends one connection's messages and its close in order, one
// request at a time. Its methods may be called from any goroutine; apply
// runs on the queue's goroutine, for each answer, in order.
type Queue struct {
	c     *Client
	conn  string
	apply func(*Reply)

	mu      sync.Mutex
	items   []item
	bytes   int
	running bool
}

type item struct {
	kind string
	body []byte
}

// Queue returns the queue of connection conn; apply does an answer's
// commands (it is not called for a close event's answer, nor for an
// answer that asks nothing).
func (c *Client) Queue(conn string, apply func(*Reply)) *Queue {
	return &Queue{c: c, conn: conn, apply: apply}
}

// Post queues a message event. It reports false, queueing nothing, when
// the connection or the Client has too much waiting. v is encoded now:
// what it points to may change once Post returns.
func (q *Queue) Post(v *Message) (bool, error) {
	v.Event = KindMessage
	body, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("webhook: encode message event: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	first := len(q.items) == 0
	if !first && (len(q.items) >= MaxQueued || q.bytes+len(body) > MaxQueuedBytes) {
		q.c.full.Add(1)
		return false, nil
	}
	if n := q.c.pending.Add(int64(len(body))); n > MaxPendingBytes && !first {
		q.c.pending.Add(-int64(len(body)))
		q.c.full.Add(1)
		return false, nil
	}
	q.pushLocked(item{KindMessage, body})
	return true, nil
}

// PostLast queues the connection's close event after its messages; if the
// queue is full, it drops them first: the backend must still hear of the
// close.
func (q *Queue) PostLast(v *Close) error {
	v.Event = KindClose
	body, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("webhook: encode close event: %w", err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) >= MaxQueued {
		q.dropLocked()
	}
	q.c.pending.Add(int64(len(body)))
	q.pushLocked(item{KindClose, body})
	return nil
}

func (q *Queue) dropLocked() {
	for i, it := range q.items {
		q.release(len(it.body))
		q.items[i] = item{}
	}
	q.items = q.items[:0]
}

func (q *Queue) release(n int) {
	q.bytes -= n
	q.c.pending.Add(-int64(n))
}

func (q *Queue) pushLocked(it item) {
	q.items = append(q.items, it)
	q.bytes += len(it.body)
	if q.running {
		return
	}
	if !q.c.start() {
		q.c.opts.Log.Debug("webhook event after shutdown dropped", "event", it.kind, "conn", q.conn)
		q.dropLocked()
		return
	}
	q.running = true
	go q.run()
}

// run sends the queue's events until it is empty.
func (q *Queue) run() {
	defer q.c.wg.Done()
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.running = false
			q.items = nil // an idle connection keeps no queue
			q.mu.Unlock()
			return
		}
		it := q.items[0]
		q.items[0] = item{}
		q.items = q.items[1:]
		q.mu.Unlock()
		r, err := q.c.call(it.kind, q.conn, it.body)
		q.mu.Lock()
		q.release(len(it.body))
		q.mu.Unlock()
		if err == nil && it.kind != KindClose && !r.empty() {
			q.apply(r)
		}
	}
}
