package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// tokenState is one connection's token: the user it named and, with
// -jwt-expire-close, the timer that closes the connection at its exp.
// The states live in tokens.conns, not on the connection, so that a
// worker without tokens spends no byte per connection on them.
type tokenState struct {
	sub   string
	timer *time.Timer // nil: no expiry watched

	// The refreshes tried since window began (see refreshBurst).
	window    time.Time
	refreshes int
}

// refreshBurst is how many refreshes a connection may try per
// refreshWindow. A refresh checks a signature, up to about 100 µs of CPU
// (ES256, RSA), where a chat message costs a few: without a bound, a client
// sending refreshes in a loop, good tokens or bad, makes the worker spend
// that much per message. A token lives minutes; one refresh per token
// suffices.
const (
	refreshBurst  = 4
	refreshWindow = 10 * time.Second
)

// allowRefresh counts a refresh tried at now and reports whether it is
// within the bound. t.mu is held.
func (ts *tokenState) allowRefresh(now time.Time) bool {
	if now.Sub(ts.window) >= refreshWindow {
		ts.window, ts.refreshes = now, 0
	}
	ts.refreshes++
	return ts.refreshes <= refreshBurst
}

// start records c's token and, with -jwt-expire-close, arms its expiry.
func (t *tokens) start(c *gateway.Conn, exp time.Time, sub string) {
	if t == nil {
		return
	}
	ts := &tokenState{sub: sub}
	if t.expireClose && !exp.IsZero() {
		ts.timer = t.expiryTimer(c, exp)
	}
	t.mu.Lock()
	t.conns[c] = ts
	t.mu.Unlock()
}

// expiryTimer closes c at exp. The close is only queued: the timer's
// goroutine never blocks.
func (t *tokens) expiryTimer(c *gateway.Conn, exp time.Time) *time.Timer {
	return time.AfterFunc(time.Until(exp), func() {
		t.log.Debug("connection token expired", "conn", c.ID())
		c.Close(app.StatusTokenExpired, "token expired")
	})
}

// stop forgets a connection that ended and disarms its expiry.
func (t *tokens) stop(c *gateway.Conn) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if ts := t.conns[c]; ts != nil && ts.timer != nil {
		ts.timer.Stop()
	}
	delete(t.conns, c)
}

var (
	errTokenExpired = errors.New("worker: the token expired already; the connection is closing")
	errRefreshBurst = fmt.Errorf("worker: refresh: more than %d in %s; try again later", refreshBurst, refreshWindow)
)

// refresh verifies token for c and moves c's expiry to its exp; at most
// refreshBurst tries per refreshWindow are verified.
func (t *tokens) refresh(c *gateway.Conn, token string) (time.Time, error) {
	if t == nil {
		return time.Time{}, app.ErrNoTokens
	}
	t.mu.Lock()
	ts := t.conns[c]
	allowed := ts != nil && ts.allowRefresh(time.Now())
	t.mu.Unlock()
	switch {
	case ts == nil:
		return time.Time{}, gateway.ErrClosed
	case !allowed:
		return time.Time{}, errRefreshBurst
	}
	cl, err := t.verifier.Verify(token)
	if err != nil {
		return time.Time{}, fmt.Errorf("worker: refresh: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	ts = t.conns[c] // the connection may have ended during Verify
	switch {
	case ts == nil:
		return time.Time{}, gateway.ErrClosed
	case cl.Subject != ts.sub:
		return time.Time{}, errors.New("worker: refresh: the token is for another user")
	case !t.expireClose:
		return cl.Expires, nil
	case ts.timer != nil && !ts.timer.Stop():
		return time.Time{}, errTokenExpired // its close is under way
	}
	ts.timer = nil
	if !cl.Expires.IsZero() {
		ts.timer = t.expiryTimer(c, cl.Expires)
	}
	return cl.Expires, nil
}
