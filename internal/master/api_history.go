package master

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/history"
)

// apiUsers keeps the HTTP API's messages to users with history
// (httpapi.UserHistory) in the cluster's history stream, which it opens on
// first use (and again at most every apiUsersRetry after a failure).
type apiUsers struct {
	bc    *bus.Client
	opts  history.Options
	mu    sync.Mutex // guards st and retry; held while opening, bounded by the caller's ctx
	st    *history.Store
	retry time.Time
}

// apiUsersRetry is the pause after the stream could not be opened.
const apiUsersRetry = 5 * time.Second

// errNoHistory: the history stream could not be opened lately.
var errNoHistory = errors.New("master: the history stream is unavailable")

// newAPIUsers returns the API's user history, or nil when no user has any:
// no '@' rule, or an app that keeps no users' history
// (app.UserKeptFormatter), whose workers would not resume it.
func (m *Master) newAPIUsers() *apiUsers {
	if _, ok := m.opts.App.(app.UserKeptFormatter); !ok {
		return nil
	}
	rules, _ := history.ParseRules(m.opts.History) // checked by config.Check
	users := false
	for _, r := range rules {
		users = users || r.User
	}
	if !users {
		return nil
	}
	return &apiUsers{bc: m.bus, opts: history.Options{Prefix: m.bus.Prefix(), Rules: rules,
		Replicas: m.opts.HistoryReplicas, MaxBytes: m.opts.HistoryMaxBytes}}
}

// KeepUser keeps msg for uid when a rule keeps uid's messages.
func (a *apiUsers) KeepUser(ctx context.Context, uid string, msg app.Message) (app.Position, bool, error) {
	if _, ok := a.opts.Rules.MatchUser(uid); !ok {
		return app.Position{}, false, nil
	}
	st, err := a.store(ctx)
	if err != nil {
		return app.Position{}, false, err
	}
	p, err := st.KeepUser(ctx, uid, msg)
	if err != nil {
		return app.Position{}, false, err
	}
	return p, true, nil
}

func (a *apiUsers) store(ctx context.Context) (*history.Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.st != nil {
		return a.st, nil
	}
	if time.Now().Before(a.retry) {
		return nil, errNoHistory
	}
	st, err := history.Open(ctx, a.bc.NATS(), a.opts)
	if err != nil {
		a.retry = time.Now().Add(apiUsersRetry)
		return nil, fmt.Errorf("master: %w", err)
	}
	a.st = st
	return st, nil
}
