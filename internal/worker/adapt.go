package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// handler adapts the gateway's callbacks to the hub's registry and the
// application's callbacks.
type handler struct {
	app    app.App
	hub    *hub.Hub
	events *events // nil without -events
	tokens *tokens // nil without -jwt-*
	log    *slog.Logger
	inline bool            // the app never blocks: call it on the poller
	wg     *sync.WaitGroup // mailboxes' goroutines
	budget *budget         // the bytes waiting in the mailboxes
}

// conn is an application's view of a gateway connection. It lives in the
// gateway connection's Value.
type conn struct {
	*gateway.Conn
	val any
	box *mailbox // nil for an Inline application
}

func (c *conn) Send(m app.Message) error      { return c.Conn.Send(opOf(m.Binary), m.Data) }
func (c *conn) Close(code int, reason string) { c.Conn.Close(gateway.StatusCode(code), reason) }
func (c *conn) Value() any                    { return c.val }
func (c *conn) SetValue(v any)                { c.val = v }

func opOf(binary bool) ws.OpCode {
	if binary {
		return ws.OpBinary
	}
	return ws.OpText
}

// guard runs one application callback; a panic in it is logged with its
// stack and closes that connection with 1011 (internal error) instead of
// taking the worker and every other connection down with it.
func (h handler) guard(c *gateway.Conn, callback string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			h.log.Error("application panicked", "callback", callback, "conn", c.ID(), "panic", r, "stack", string(debug.Stack()))
			c.Close(ws.StatusInternalServerError, "internal error")
		}
	}()
	f()
}

// wrap makes the application's view of c; only an application that may
// block gets a mailbox.
func (h handler) wrap(c *gateway.Conn) *conn {
	ac := &conn{Conn: c}
	if !h.inline {
		ac.box = &mailbox{wg: h.wg, budget: h.budget}
	}
	return ac
}

// OnOpen binds the connection to its token's user, so the application
// sees it bound, then runs the application's OnOpen with the value its
// Admit returned.
func (h handler) OnOpen(c *gateway.Conn) error {
	adm, _ := c.Value.(*admission) // nil without Options.Admit
	ac := h.wrap(c)
	c.Value = ac
	var header map[string]string
	if adm != nil {
		ac.val, header = adm.value, adm.header
		if sub := adm.token.Subject; sub != "" {
			if err := h.hub.Bind(c, sub); err != nil {
				return fmt.Errorf("worker: bind the token's user: %w", err)
			}
			h.tokens.start(c, adm.token.Expires, sub)
		}
	}
	var err error
	h.guard(c, "OnOpen", func() { err = h.app.OnOpen(ac) })
	if err != nil {
		var ce *app.CloseError
		if errors.As(err, &ce) {
			return &gateway.CloseError{Code: gateway.StatusCode(ce.Code), Reason: ce.Reason}
		}
		return err
	}
	h.events.open(c, header, h.hub.UserOf(c))
	h.log.Debug("connection opened", "conn", c.ID(), "remote", c.RemoteAddr(), "path", pathOf(c.RequestURI()))
	return nil
}

func (h handler) OnMessage(c *gateway.Conn, m gateway.Message) {
	h.events.message(c, m)
	ac := c.Value.(*conn)
	if h.inline {
		h.guard(c, "OnMessage", func() { h.app.OnMessage(ac, app.Message{Binary: m.Binary, Data: m.Data}) })
		return
	}
	// m.Data may point into the poller's buffer: the mailbox gets a copy.
	msg := app.Message{Binary: m.Binary, Data: append([]byte(nil), m.Data...)}
	if !ac.box.post(func() { h.guard(c, "OnMessage", func() { h.app.OnMessage(ac, msg) }) }, len(msg.Data)) {
		overloaded(c)
	}
}

// OnClose runs the application's callback while the connection is still in
// its rooms (so it can tell them), then forgets it.
func (h handler) OnClose(c *gateway.Conn, code int, _ string) {
	ac, ok := c.Value.(*conn)
	if !ok { // the upgrade never reached OnOpen's first line
		ac = h.wrap(c)
	}
	h.log.Debug("connection closed", "conn", c.ID(), "remote", c.RemoteAddr(), "code", code)
	h.tokens.stop(c)
	closed := func() {
		h.guard(c, "OnClose", func() { h.app.OnClose(ac, code) })
		if h.events != nil {
			h.events.close(c, code, h.hub.UserOf(c), h.hub.Rooms(c))
		}
		h.hub.Remove(c)
	}
	if h.inline {
		closed()
		return
	}
	ac.box.postLast(closed)
}

// services is what the worker offers the application (app.Worker).
type services struct{ w *Worker }

// gw returns the gateway connection behind an application's Conn.
func gw(c app.Conn) (*gateway.Conn, error) {
	ac, ok := c.(*conn)
	if !ok {
		return nil, hub.ErrNotLocal
	}
	return ac.Conn, nil
}

func busMsg(m app.Message) bus.Message { return bus.Message{Binary: m.Binary, Data: m.Data} }

func (s services) Broadcast(m app.Message) error { return s.w.hub.SendAll(busMsg(m)) }
func (s services) SendTo(id string, m app.Message) error {
	return s.w.hub.SendConn(id, busMsg(m))
}
func (s services) SendToRoom(room string, m app.Message, except string) error {
	bm := busMsg(m)
	bm.Exclude = except
	return s.w.hub.SendRoom(room, bm)
}
func (s services) SendToUser(uid string, m app.Message) error {
	return s.w.hub.SendUser(uid, busMsg(m))
}
func (s services) JoinRoom(c app.Conn, room string) error {
	g, err := gw(c)
	if err != nil {
		return err
	}
	return s.w.hub.Join(g, room)
}
func (s services) LeaveRoom(c app.Conn, room string) error {
	g, err := gw(c)
	if err != nil {
		return err
	}
	return s.w.hub.Leave(g, room)
}
func (s services) Rooms(c app.Conn) []string {
	g, err := gw(c)
	if err != nil {
		return nil
	}
	return s.w.hub.Rooms(g)
}
func (s services) BindUser(c app.Conn, uid string) error {
	g, err := gw(c)
	if err != nil {
		return err
	}
	return s.w.hub.Bind(g, uid)
}
func (s services) UnbindUser(c app.Conn) error {
	g, err := gw(c)
	if err != nil {
		return err
	}
	return s.w.hub.Unbind(g)
}
func (s services) UserOf(c app.Conn) string {
	g, err := gw(c)
	if err != nil {
		return ""
	}
	return s.w.hub.UserOf(g)
}
func (s services) CloseConn(id string, code int, reason string) error {
	return s.w.hub.CloseConn(id, code, reason)
}
func (s services) IsOnline(ctx context.Context, id string) (bool, error) {
	return s.w.hub.Online(ctx, id)
}
func (s services) UserConnections(ctx context.Context, uid string) (int, error) {
	return s.w.hub.UserCount(ctx, uid)
}
func (s services) ConnectionCount(ctx context.Context) (int, error) { return s.w.hub.Count(ctx) }
func (s services) RoomCount(ctx context.Context, room string) (int, error) {
	return s.w.hub.RoomCount(ctx, room)
}
func (s services) RoomMembers(ctx context.Context, room string) ([]app.Member, error) {
	ms, err := s.w.hub.RoomMembers(ctx, room)
	out := make([]app.Member, len(ms))
	for i, m := range ms {
		out[i] = app.Member{ConnID: m.ConnID, UID: m.UID}
	}
	return out, err
}
func (s services) RoomUsers(ctx context.Context, room, after string, limit int) (app.UserPage, error) {
	p, err := s.w.hub.RoomUsers(ctx, room, after, limit)
	return app.UserPage{Users: p.Users, More: p.More, Count: p.Count}, err
}
func (s services) Logger() *slog.Logger { return s.w.log }
func (s services) RefreshToken(c app.Conn, token string) (time.Time, error) {
	ac, ok := c.(*conn)
	if !ok {
		return time.Time{}, hub.ErrNotLocal
	}
	return s.w.tokens.refresh(ac.Conn, token)
}
