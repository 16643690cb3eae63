package hub

import (
	"context"
	"errors"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// History for users: the messages sent to a user with SendToUserKept are
// kept when a -history rule with a leading '@' matches the user, and a
// connection resumes them with BindUserSince, the way JoinRoomSince
// resumes a room: the same hold, replay, release and floor, on the user's
// group. Users no rule matches take SendToUser's path, and so do all users
// of an app that keeps no user history (no Options.FormatKeptUser).

// errResuming: a connection asked to resume its user while it already was.
var errResuming = errors.New("hub: this connection is already resuming its user's messages")

// HasUserHistory reports whether the messages to uid are kept: a rule
// matches it, and the app keeps users' history (Options.FormatKeptUser).
func (h *Hub) HasUserHistory(uid string) bool {
	st := h.history.Load()
	return st != nil && h.opts.FormatKeptUser != nil && st.HasUser(uid)
}

// SendToUserKept keeps m in uid's history and sends format(m, position)
// to uid's connections; without history, or when keeping fails (JetStream
// down), it sends m as SendToUser does and returns a zero Position.
func (h *Hub) SendToUserKept(uid string, m app.Message, format func(app.Message, app.Position) app.Message) (app.Position, error) {
	if err := checkName(uid); err != nil {
		return app.Position{}, err
	}
	if !h.HasUserHistory(uid) {
		return app.Position{}, h.SendToUser(uid, m)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.QueryTimeout)
	defer cancel()
	p, err := h.history.Load().KeepUser(ctx, uid, m)
	if err != nil {
		h.log.Warn("history: not kept, sent live only", "user", uid, "err", err)
		return app.Position{}, h.SendToUser(uid, m)
	}
	bm := busMsg(format(m, p))
	bm.Offset = p.Offset
	return p, h.opts.Bus.PublishUser(uid, bm)
}

// BindUserSince binds c to uid and replays uid's kept messages after since
// (see app.Historian). done runs while uid's deliveries on this worker
// wait: it may only queue messages to c (c.Send).
func (h *Hub) BindUserSince(c app.Conn, uid string, since *app.Position, replay func(app.Kept), done func(app.Recovery)) error {
	gc, err := gatewayOf(c)
	if err != nil {
		return err
	}
	if !h.HasUserHistory(uid) {
		if err := h.Bind(gc, uid); err != nil {
			return err
		}
		done(app.Recovery{})
		return nil
	}
	g, err := h.bindWith(gc, uid, true)
	if err != nil {
		return err
	}
	if err := h.wait(g); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), replayTimeout)
	defer cancel()
	st := h.history.Load()
	var kept []app.Kept
	var rec app.Recovery
	if since == nil {
		rec.Position, err = st.CurrentUser(ctx, uid)
	} else {
		kept, rec, err = st.SinceUser(ctx, uid, *since)
	}
	if err != nil {
		h.log.Warn("history: replay failed", "user", uid, "err", err)
		kept, rec = nil, app.Recovery{}
	}
	for _, k := range kept {
		replay(k)
	}
	h.release(g, gc, rec, done)
	return nil
}

// rehold holds uid's messages to c, already bound to uid, for a resume. h.mu
// is held.
func (h *Hub) rehold(c *gateway.Conn, uid string) (*group, error) {
	g := h.users[uid]
	if g == nil {
		return nil, ErrNotLocal // cannot be: c's binding keeps the group
	}
	if g.held[c] != nil {
		return nil, errResuming
	}
	g.hold(c)
	return g, nil
}
