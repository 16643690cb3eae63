package worker

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// tokenState is one connection's token: the user it named and, with
// -jwt-expire-close, the timer that closes the connection at its exp.
type tokenState struct {
	sub string

	mu     sync.Mutex
	timer  *time.Timer // nil: no expiry watched
	closed bool        // OnClose ran: no new timer
}

// start makes c's token state and, with -jwt-expire-close, arms its
// expiry; nil when no token was checked.
func (t *tokens) start(c *gateway.Conn, exp time.Time, sub string) *tokenState {
	if t == nil || sub == "" {
		return nil
	}
	ts := &tokenState{sub: sub}
	if t.expireClose && !exp.IsZero() {
		ts.timer = t.expiryTimer(c, exp)
	}
	return ts
}

// expiryTimer closes c at exp. The close is only queued: the timer's
// goroutine never blocks.
func (t *tokens) expiryTimer(c *gateway.Conn, exp time.Time) *time.Timer {
	return time.AfterFunc(time.Until(exp), func() {
		t.log.Debug("connection token expired", "conn", c.ID())
		c.Close(app.StatusTokenExpired, "token expired")
	})
}

// stop disarms the expiry of a connection that ended.
func (ts *tokenState) stop() {
	if ts == nil {
		return
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.closed = true
	if ts.timer != nil {
		ts.timer.Stop()
	}
}

var errTokenExpired = errors.New("worker: the token expired already; the connection is closing")

// refresh verifies token for c and moves c's expiry to its exp.
func (t *tokens) refresh(c *conn, token string) (time.Time, error) {
	if t == nil {
		return time.Time{}, app.ErrNoTokens
	}
	cl, err := t.verifier.Verify(token)
	if err != nil {
		return time.Time{}, fmt.Errorf("worker: refresh: %w", err)
	}
	ts := c.tok
	if ts == nil || cl.Subject != ts.sub {
		return time.Time{}, errors.New("worker: refresh: the token is for another user")
	}
	if !t.expireClose {
		return cl.Expires, nil
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.closed {
		return time.Time{}, gateway.ErrClosed
	}
	if ts.timer != nil && !ts.timer.Stop() {
		return time.Time{}, errTokenExpired // its close is under way
	}
	ts.timer = nil
	if !cl.Expires.IsZero() {
		ts.timer = t.expiryTimer(c.Conn, cl.Expires)
	}
	return cl.Expires, nil
}
