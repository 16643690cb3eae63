package adminui

import (
	"sync"
	"time"
)

// freeFailures is how many wrong passwords a client address may send
// before it must wait.
const freeFailures = 5

// maxBackoff caps the wait after repeated failures.
const maxBackoff = 5 * time.Minute

// failures slows down password guessing, per client address: after
// freeFailures wrong passwords, each further one makes the address wait
// 1s, 2s, 4s ... (at most maxBackoff) before it may try again. It keeps at
// most max addresses; when full, entries whose wait is over go first, then
// the oldest.
type failures struct {
	mu  sync.Mutex
	m   map[string]*failure
	max int
	now func() time.Time
}

type failure struct {
	n     int
	until time.Time // no attempt before
	last  time.Time
}

func newFailures(max int, now func() time.Time) *failures {
	return &failures{m: make(map[string]*failure), max: max, now: now}
}

// wait is how long addr must still wait before trying (0: it may).
func (f *failures) wait(addr string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[addr]
	if !ok {
		return 0
	}
	return max(0, e.until.Sub(f.now()))
}

// fail counts a wrong password from addr and returns its failures so far.
func (f *failures) fail(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	e, ok := f.m[addr]
	if !ok {
		f.makeRoom(now)
		e = &failure{}
		f.m[addr] = e
	}
	e.n++
	e.last = now
	if e.n >= freeFailures {
		d := maxBackoff
		if shift := e.n - freeFailures; shift < 9 {
			d = min(maxBackoff, time.Second<<shift)
		}
		e.until = now.Add(d)
	}
	return e.n
}

// succeed forgets addr's failures.
func (f *failures) succeed(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, addr)
}

// makeRoom drops entries until one more fits; f.mu is held.
func (f *failures) makeRoom(now time.Time) {
	if len(f.m) < f.max {
		return
	}
	for a, e := range f.m {
		if e.n < freeFailures || !now.Before(e.until) {
			delete(f.m, a)
		}
	}
	for len(f.m) >= f.max {
		var oldest string
		for a, e := range f.m {
			if oldest == "" || e.last.Before(f.m[oldest].last) {
				oldest = a
			}
		}
		delete(f.m, oldest)
	}
}

// size is how many addresses are tracked.
func (f *failures) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.m)
}
