package master

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// handoffTimeout bounds one worker's hand-off (-handoff): past it, the
// connections not moved yet drain with 1012 as without a hand-off.
const handoffTimeout = 60 * time.Second

// handOffAll has each old worker hand its connections to its slot's new
// worker (news[i] for olds[i]; nil: none ready), all at once, and returns
// the first failure: a new worker that went away mid-way, or refused.
// Whatever did not move stays with its old worker, which then drains with
// 1012. A worker with nothing it may move (a TLS listener, an application
// without app.Handoffer) is logged, not a failure.
func handOffAll(olds []*child, news []process, tm timings, log *slog.Logger) error {
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for i, c := range olds {
		if news[i] == nil {
			continue
		}
		wg.Go(func() {
			if err := handOff(c, news[i], tm, log); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// errNotMovable is an old worker's answer that nothing of it may move.
var errNotMovable = errors.New("connections cannot move")

// handOff pairs old with its replacement nw over an abstract Unix socket
// of a random name that nw accepts from old's pid only.
func handOff(old *child, nw process, tm timings, log *slog.Logger) error {
	name, err := handoffName()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), tm.stopCall)
	err = nw.Call(ctx, ctl.OpHandoffListen, ctl.HandoffListen{Name: name, From: old.proc.PID(),
		TimeoutMillis: handoffTimeout.Milliseconds()}, nil)
	cancel()
	var re *ctl.RemoteError
	if errors.As(err, &re) {
		log.Info("reload: connections not handed off; they get 1012", "worker", old.slot, "why", re.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("reload: worker %d: hand-off: the new worker (pid %d): %w", old.slot, nw.PID(), err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), handoffTimeout+tm.stopCall)
	defer cancel()
	var res ctl.HandoffResult
	start := time.Now()
	if err := old.proc.Call(ctx, ctl.OpHandoff, ctl.HandoffRequest{Name: name, TimeoutMillis: handoffTimeout.Milliseconds()}, &res); err != nil {
		return fmt.Errorf("reload: worker %d: hand-off: %w", old.slot, err)
	}
	log.Info("reload: connections handed off", "worker", old.slot, "from", old.proc.PID(), "to", nw.PID(),
		"moved", res.Moved, "kept", res.Kept, "took", time.Since(start).Round(time.Millisecond))
	if res.Error != "" {
		return fmt.Errorf("reload: worker %d: hand-off stopped after %d connections (%d get 1012): %s", old.slot, res.Moved, res.Kept, res.Error)
	}
	return nil
}

// handoffName is a random abstract socket name: nobody can guess it, and
// the receiver checks the peer's pid anyway.
func handoffName() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("master: hand-off name: %w", err)
	}
	return "wsfleet-handoff-" + hex.EncodeToString(b[:]), nil
}
