package gateway

import (
	"net"
	"sync"
)

// output is a connection's write state: its queue of frames and the bytes
// they hold. It exists only while output waits (issue 16): an idle
// connection's Conn holds a nil pointer instead of these 56 bytes (with
// the kept input behind a pointer too, Conn fits the runtime's 192-byte
// class, TestConnSize), as the read state (Conn.rd) is nil between
// messages. appendLocked takes one from the
// server's pool with the first frame queued; releaseOutputLocked gives it
// back once everything is written, or the queue is dropped.
type output struct {
	frames net.Buffers // frames not yet written
	first  [1][]byte   // frames' storage while it holds one frame
	queued int         // bytes in frames, and in the writer goroutine's batch
}

// outputs is a Server's pool of write states: a connection that is sent
// one message at a time takes one and gives it back per message, without
// an allocation.
type outputs struct{ pool sync.Pool }

func (o *outputs) get() *output {
	if w, ok := o.pool.Get().(*output); ok {
		return w
	}
	return new(output)
}

// put returns w, which nothing refers to any more, emptied: a pooled state
// keeps no frame alive.
func (o *outputs) put(w *output) {
	*w = output{}
	o.pool.Put(w)
}

// queuedLocked is the bytes queued for c and not yet written, including
// the batch a writer goroutine holds. c.mu is held.
func (c *Conn) queuedLocked() int {
	if c.out == nil {
		return 0
	}
	return c.out.queued
}

// hasFramesLocked reports whether frames wait in c's queue. c.mu is held.
func (c *Conn) hasFramesLocked() bool { return c.out != nil && len(c.out.frames) > 0 }

// releaseOutputLocked gives c's write state back to the pool: nothing is
// queued, or what is queued is dropped. c.mu is held.
func (c *Conn) releaseOutputLocked() {
	if c.out != nil {
		c.srv.outputs.put(c.out)
		c.out = nil
	}
	c.pongLast = false
}
