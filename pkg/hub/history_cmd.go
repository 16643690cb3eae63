package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// maxSinceJoins is the most backend joins since a position one worker
// replays at once; past it a join since a position joins without replay
// (and logs it): a backend cannot make a worker spend goroutines and
// JetStream reads without bound.
const maxSinceJoins = 64

// ParseSince parses a Wsfleet-Since value, "<offset>:<epoch>".
func ParseSince(v string) (app.Position, error) {
	o, e, ok := strings.Cut(v, ":")
	n, err := strconv.ParseUint(o, 10, 64)
	if !ok || err != nil || e == "" || len(e) > 64 {
		return app.Position{}, fmt.Errorf("hub: Wsfleet-Since %q: want <offset>:<epoch>", v)
	}
	return app.Position{Offset: n, Epoch: e}, nil
}

// errBusy: too many backend joins since a position at once.
var errBusy = errors.New("hub: too many joins since a position at once; joined without replay")

// joinSinceCommand does a backend's Wsfleet-Join with Wsfleet-Since: the
// connection gets the kept messages after the position (as the app
// formats them, app.KeptFormatter), then the live ones. It runs on a
// goroutine of the hub's, as it waits for JetStream. A command sent as a
// NATS request (reply, bus.RequestCommand) is answered once the replay was
// queued to the connection, with sinceAnswer.
func (h *Hub) joinSinceCommand(c *gateway.Conn, room, since, reply string) error {
	p, err := ParseSince(since)
	if err != nil {
		_, jerr := h.join(c, room)
		h.answerSince(reply, sinceAnswer{Error: err.Error()})
		return errors.Join(err, jerr)
	}
	select {
	case h.sinceJoins <- struct{}{}:
	default:
		_, jerr := h.join(c, room)
		h.answerSince(reply, sinceAnswer{Recovered: new(bool)})
		return errors.Join(errBusy, jerr)
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.stopped {
		<-h.sinceJoins
		return errStopped
	}
	h.wg.Go(func() {
		defer func() { <-h.sinceJoins }()
		replay := func(k app.Kept) {
			m := k.Message
			if h.opts.FormatKept != nil {
				m = h.opts.FormatKept(room, k)
			}
			c.Send(opOf(m.Binary), m.Data)
		}
		var rec app.Recovery
		if err := h.joinSince(c, room, &p, replay, func(r app.Recovery) { rec = r }); err != nil {
			h.log.Warn("command failed", "conn", c.ID(), "join", room, "err", err)
			h.answerSince(reply, sinceAnswer{Error: err.Error()})
			return
		}
		h.answerSince(reply, sinceAnswer{Recovered: &rec.Recovered, Offset: &rec.Position.Offset, Epoch: rec.Position.Epoch})
	})
	return nil
}

// sinceAnswer is the answer to a join since a position sent as a request
// (docs/backend.md): whether the recovery was complete and the room's
// position after the replay, or why the join failed.
type sinceAnswer struct {
	Recovered *bool   `json:"recovered,omitempty"`
	Offset    *uint64 `json:"offset,omitempty"`
	Epoch     string  `json:"epoch,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// answerSince sends a to a command's reply subject; "" (a command sent without
// waiting for an answer) sends nothing.
func (h *Hub) answerSince(reply string, a sinceAnswer) {
	if reply == "" {
		return
	}
	b, _ := json.Marshal(a) // plain fields: cannot fail
	if err := h.opts.Bus.ReplyCommand(reply, b); err != nil {
		h.log.Warn("command's answer", "err", err)
	}
}
