// Package ratelog bounds how often one kind of log line is written, so
// that a client, a caller or a backend repeating a failure in a loop costs
// the disk a few lines a second, and the lines left out are counted in the
// next one written (nats-server's RateLimitWarnf does the same per
// message).
package ratelog

import (
	"sync"
	"time"
)

// Limiter lets through at most Burst lines per second of the wall clock
// and counts the rest. Its zero value lets through one a second. It is
// safe for concurrent use.
type Limiter struct {
	// Burst is how many lines a second may be written; 0 means 1.
	Burst int

	mu      sync.Mutex
	second  int64
	lines   int
	dropped int
}

// Allow reports whether a line may be written at now, and how many were
// left out since the last one that was.
func (l *Limiter) Allow(now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := now.Unix(); s != l.second {
		l.second, l.lines = s, 0
	}
	if l.lines >= max(l.Burst, 1) {
		l.dropped++
		return false, 0
	}
	l.lines++
	d := l.dropped
	l.dropped = 0
	return true, d
}
