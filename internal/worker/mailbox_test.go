package worker

import (
	"sync"
	"testing"
)

func TestMailboxRunsInOrderAndBounds(t *testing.T) {
	var wg sync.WaitGroup
	m := mailbox{wg: &wg}
	release := make(chan struct{})
	var got []int
	// The first callback blocks: the rest queue behind it, in order.
	if !m.post(func() { <-release }) {
		t.Fatal("first post refused")
	}
	for i := 0; i < maxPending; i++ {
		ok := m.post(func() { got = append(got, i) })
		if i < maxPending-1 && !ok {
			t.Fatalf("post %d refused", i)
		}
		if i == maxPending-1 && ok {
			// The blocked callback may already have been taken off the
			// queue, leaving room for exactly one more.
			if m.post(func() {}) {
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
	if m.running || m.queue != nil {
		t.Fatal("an idle mailbox keeps a goroutine or a queue")
	}
}
