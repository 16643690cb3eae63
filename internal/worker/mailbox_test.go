package worker

import (
	"sync"
	"testing"
)

func TestMailboxRunsInOrderAndBounds(t *testing.T) {
	var wg sync.WaitGroup
	m := mailbox{wg: &wg, budget: &budget{}}
	release := make(chan struct{})
	var got []int
	// The first callback blocks: the rest queue behind it, in order.
	if !m.post(func() { <-release }, 0) {
		t.Fatal("first post refused")
	}
	for i := 0; i < maxPending; i++ {
		ok := m.post(func() { got = append(got, i) }, 1)
		if i < maxPending-1 && !ok {
			t.Fatalf("post %d refused", i)
		}
		if i == maxPending-1 && ok {
			// The blocked callback may already have been taken off the
			// queue, leaving room for exactly one more.
			if m.post(func() {}, 1) {
				t.Fatal("posts beyond maxPending accepted")
			}
		}
	}
	close(release)
	wg.Wait()
	for i, v := range got {
		if v != i {
			t.Fatalf("callback %d ran as %d: out of order", i, v)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running || m.queue != nil || m.bytes != 0 || m.budget.used.Load() != 0 {
		t.Fatalf("an idle mailbox keeps a goroutine, a queue or bytes: running %v, %d bytes, budget %d", m.running, m.bytes, m.budget.used.Load())
	}
}

// TestMailboxBytes: a mailbox is bounded in bytes, per connection and per
// worker, and always takes one message when nothing waits, however large
// (issue 10: a count of 256 let 10 MiB messages pile up).
func TestMailboxBytes(t *testing.T) {
	var wg sync.WaitGroup
	b := &budget{}
	m := mailbox{wg: &wg, budget: b}
	release := make(chan struct{})
	block := func() { <-release }
	if !m.post(block, 10<<20) {
		t.Fatal("a 10 MiB message refused with nothing waiting")
	}
	// The first may be running already; fill the queue to its bound.
	for m.post(block, maxPendingBytes/4) {
		if m.bytes > 10<<20+maxPendingBytes+maxPendingBytes/4 {
			t.Fatalf("%d bytes pending", m.bytes)
		}
	}
	m.mu.Lock()
	if n := len(m.queue); n > 5 || n == 0 {
		t.Errorf("%d messages of %d bytes queued; want at most %d bytes", n, maxPendingBytes/4, maxPendingBytes)
	}
	m.mu.Unlock()

	// Other connections share the worker's bound: once it is spent, a
	// connection with something waiting is refused; one with nothing
	// waiting still gets its one message through.
	others := make([]*mailbox, 0, 100)
	for i := 0; i < cap(others); i++ {
		o := &mailbox{wg: &wg, budget: b}
		others = append(others, o)
		o.post(block, maxPendingBytes/2)
		o.post(block, maxPendingBytes/2)
	}
	if used := b.used.Load(); used > maxWorkerPendingBytes+int64(len(others)+1)*maxPendingBytes {
		t.Errorf("worker budget at %d bytes", used)
	}
	if b.used.Load() <= maxWorkerPendingBytes {
		t.Fatalf("100 MiB posted, budget at %d bytes: not spent", b.used.Load())
	}
	late := &mailbox{wg: &wg, budget: b}
	if !late.post(block, 100) {
		t.Error("a first message refused because of others' backlog")
	}
	if late.post(block, 100) {
		t.Error("a second message taken beyond the worker's bound")
	}
	close(release)
	wg.Wait()
	if b.used.Load() != 0 {
		t.Errorf("budget not returned: %d bytes", b.used.Load())
	}
}

// TestMailboxLastWord: the close callback runs after what waits, and
// replaces it when the mailbox is full.
func TestMailboxLastWord(t *testing.T) {
	var wg sync.WaitGroup
	m := mailbox{wg: &wg, budget: &budget{}}
	release := make(chan struct{})
	m.post(func() { <-release }, 0)
	ran := 0
	m.post(func() { ran++ }, 1)
	closed := false
	m.postLast(func() { closed = ran == 1 })
	close(release)
	wg.Wait()
	if !closed {
		t.Fatal("the last callback did not run after the waiting message")
	}

	full := mailbox{wg: &wg, budget: &budget{}}
	release = make(chan struct{})
	full.post(func() { <-release }, 0)
	for full.post(func() { t.Error("a dropped message ran") }, 1) {
	}
	last := false
	full.postLast(func() { last = true })
	close(release)
	wg.Wait()
	if !last || full.budget.used.Load() != 0 {
		t.Fatalf("last word %v, budget %d", last, full.budget.used.Load())
	}
}
