package adminui

import (
	"log/slog"
	"sync"
	"time"
)

// limitedLog writes at most one line per interval; the lines it had to
// leave out meanwhile are counted in the next one, so a flood of bad
// requests costs the disk one line a second.
type limitedLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func newLimitedLog(log *slog.Logger, interval time.Duration) *limitedLog {
	return &limitedLog{log: log, interval: interval, now: time.Now}
}

// warn writes msg with args (at warning level) unless a line was written
// less than an interval ago; then it only counts it.
func (l *limitedLog) warn(msg string, args ...any) {
	l.mu.Lock()
	now := l.now()
	if !l.last.IsZero() && now.Sub(l.last) < l.interval {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	l.log.Warn(msg, args...)
}
