package hub

import (
	"context"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/history"
)

// When JetStream cannot keep a room message at once for a reason that
// passes by itself (a host of an external NATS cluster died and its
// stream's replicas elect a new leader, which takes seconds), the message
// waits in the worker's keeper, which tries again, in order, until kept,
// and only then sends it to the room: a client resuming later finds it in
// the history. While the keeper holds messages, the worker's next ones
// queue behind them, so that one sender's messages keep their order. The
// poller that received the message does not wait.

// Bounds of the keeper: the messages it holds, their bytes, and how long
// one is tried before it goes to the room live only (unkept).
const (
	maxKeepQueue    = 1024
	maxKeepBytes    = 1 << 20
	keepRetryMax    = 30 * time.Second
	keepRetryWait   = 250 * time.Millisecond
	keepAttemptTime = 2 * time.Second
)

// keepJob is a room message waiting to be kept.
type keepJob struct {
	room   string
	m      app.Message
	format func(app.Message, app.Position) app.Message
	id     string // the message id JetStream dedupes the tries by
	since  time.Time
}

// keeper is the worker's queue of room messages waiting to be kept.
type keeper struct {
	mu    sync.Mutex
	q     []keepJob
	bytes int
	full  bool // the bounds were hit since the queue was last empty (logged once)
	kick  chan struct{}
}

func newKeeper() *keeper { return &keeper{kick: make(chan struct{}, 1)} }

// busy reports whether messages wait: a new one must queue behind them.
func (k *keeper) busy() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.q) > 0
}

// add queues j, or says false when the bounds are reached (and whether
// that is news).
func (k *keeper) add(j keepJob) (ok, first bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.q) >= maxKeepQueue || k.bytes+len(j.m.Data) > maxKeepBytes {
		first = !k.full
		k.full = true
		return false, first
	}
	k.q = append(k.q, j)
	k.bytes += len(j.m.Data)
	select {
	case k.kick <- struct{}{}:
	default:
	}
	return true, false
}

func (k *keeper) head() (keepJob, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.q) == 0 {
		return keepJob{}, false
	}
	return k.q[0], true
}

func (k *keeper) pop() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.bytes -= len(k.q[0].m.Data)
	k.q[0] = keepJob{}
	k.q = k.q[1:]
	if len(k.q) == 0 {
		k.q, k.full = nil, false
	}
}

// keepLater queues a room message JetStream could not keep now; when the
// keeper is full it goes to the room live only.
func (h *Hub) keepLater(j keepJob) error {
	ok, first := h.keeper.add(j)
	if ok {
		return nil
	}
	if first {
		h.log.Warn("history: messages waiting to be kept reached their bound; sending live only",
			"messages", maxKeepQueue, "bytes", maxKeepBytes)
	}
	return h.SendToRoom(j.room, j.m, "")
}

// runKeeper tries the queued messages, in order, until ctx ends; then the
// messages left go to their rooms live only.
func (h *Hub) runKeeper(ctx context.Context) {
	for {
		j, ok := h.keeper.head()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-h.keeper.kick:
				continue
			}
		}
		if ctx.Err() != nil {
			h.log.Warn("history: stopping with a message not kept; sent live only", "room", j.room)
			h.SendToRoom(j.room, j.m, "")
			h.keeper.pop()
			continue
		}
		if h.keepOne(ctx, j) {
			h.keeper.pop()
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(keepRetryWait):
		}
	}
}

// keepOne tries j once; it says whether j is done with (kept and sent,
// or given up and sent live only).
func (h *Hub) keepOne(ctx context.Context, j keepJob) bool {
	actx, cancel := context.WithTimeout(ctx, keepAttemptTime)
	defer cancel()
	p, err := h.history.Load().KeepOnce(actx, j.room, j.m, j.id)
	switch {
	case err == nil:
		bm := busMsg(j.format(j.m, p))
		bm.Offset = p.Offset
		if err := h.opts.Bus.PublishRoom(j.room, bm); err != nil {
			h.log.Warn("history: kept, not sent", "room", j.room, "err", err)
		}
		return true
	case history.Transient(err) && time.Since(j.since) < keepRetryMax:
		return false
	}
	h.log.Warn("history: not kept, sent live only", "room", j.room, "err", err, "tried", time.Since(j.since).Round(time.Millisecond))
	h.SendToRoom(j.room, j.m, "")
	return true
}
