package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/internal/webhook"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// handler adapts the gateway's callbacks to the hub's registry and the
// application's callbacks.
type handler struct {
	app    app.App
	hub    *hub.Hub
	events *events // nil without -events
	hook   *hook   // nil without -webhook
	tokens *tokens // nil without -jwt-*
	log    *slog.Logger
	inline bool            // the app never blocks: call it on the poller
	wg     *sync.WaitGroup // mailboxes' goroutines
	budget *budget         // the bytes waiting in the mailboxes
}

// conn is an application's view of a gateway connection (the hub's, which
// the hub's app.Worker methods know), and its mailbox. It lives in the
// gateway connection's Value.
type conn struct {
	hub.Conn
	box  *mailbox       // nil for an Inline application
	hook *webhook.Queue // nil without -webhook, or before the open's answer
}

// An Inline application's connection on a worker without -webhook has
// neither a mailbox nor a webhook queue: its view is the hub's LeanConn,
// the gateway connection itself, whose Value holds the application's
// value; no object of its own, where a conn is 48 bytes, on every idle
// connection (issue 16).

// view is what both kinds of view are to the worker.
type view interface {
	app.Conn
	Opened()
}

// lean reports whether the worker's connections have lean views.
func (h handler) lean() bool { return h.inline && h.hook == nil }

// parts returns c's application view, its mailbox (nil: an Inline
// application) and webhook queue (nil: none); ok is false when c has none
// (OnOpen did not make it yet: c.Value still holds the admission).
func (h handler) parts(c *gateway.Conn) (ac view, box *mailbox, q *webhook.Queue, ok bool) {
	switch v := c.Value.(type) {
	case *conn:
		return v, v.box, v.hook, true
	case *admission:
		return nil, nil, nil, false
	}
	if h.lean() {
		return hub.Lean(c), nil, nil, true
	}
	return nil, nil, nil, false
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

// wrap makes the application's view of c, with what its admission
// learned (nil: nothing), and puts it in c.Value; only an application
// that may block gets a mailbox, and only a worker with -webhook a queue
// (OnOpen sets it): the others get a lean view.
func (h handler) wrap(c *gateway.Conn, adm *admission) view {
	var v any
	var hs *app.Handshake
	if adm != nil {
		v, hs = adm.value, adm.handshake
	}
	if h.lean() {
		return hub.OpenLean(c, v, hs)
	}
	ac := &conn{Conn: hub.MakeConn(c, v, hs)}
	if !h.inline {
		ac.box = &mailbox{wg: h.wg, budget: h.budget}
	}
	c.Value = ac
	return ac
}

// OnOpen binds the connection to its token's user, so the application
// sees it bound; with -webhook, it POSTs the open event and waits for the
// answer, which may refuse the connection or ask for commands; then it
// runs the application's OnOpen with the value its Admit returned and the
// upgrade request, which the connection keeps only until OnOpen returns.
// The connection reads no message before OnOpen returns.
func (h handler) OnOpen(c *gateway.Conn) error {
	adm, _ := c.Value.(*admission) // the worker's admit's; nil without it
	ac := h.wrap(c, adm)
	var header map[string]string
	if adm != nil {
		header = adm.header
		if sub := adm.token.Subject; sub != "" {
			if err := h.hub.Bind(c, sub); err != nil {
				return fmt.Errorf("worker: bind the token's user: %w", err)
			}
			h.tokens.start(c, adm.token.Expires, sub)
		}
	}
	q, err := h.hook.open(c, header, h.hub.ConnUser(c))
	if err != nil {
		ac.Opened()
		return err
	}
	if full, ok := ac.(*conn); ok {
		full.hook = q // nil without -webhook, and then ac is lean
	}
	h.guard(c, "OnOpen", func() { err = h.app.OnOpen(ac) })
	ac.Opened()
	if err != nil {
		var ce *app.CloseError
		if errors.As(err, &ce) {
			return &gateway.CloseError{Code: gateway.StatusCode(ce.Code), Reason: ce.Reason}
		}
		return err
	}
	h.events.open(c, header, h.hub.ConnUser(c))
	h.log.Debug("connection opened", "conn", c.ID(), "remote", c.RemoteAddr(), "path", pathOf(c.RequestURI()))
	return nil
}

func (h handler) OnMessage(c *gateway.Conn, m gateway.Message) {
	h.events.message(c, m)
	ac, box, q, _ := h.parts(c)
	h.hook.message(c, q, m)
	if h.inline {
		h.guard(c, "OnMessage", func() { h.app.OnMessage(ac, app.Message{Binary: m.Binary, Data: m.Data}) })
		return
	}
	// m.Data may point into the poller's buffer: the mailbox gets a copy.
	msg := app.Message{Binary: m.Binary, Data: append([]byte(nil), m.Data...)}
	if !box.post(func() { h.guard(c, "OnMessage", func() { h.app.OnMessage(ac, msg) }) }, len(msg.Data)) {
		h.budget.closes.Add(1)
		overloaded(c)
	}
}

// OnClose runs the application's callback while the connection is still in
// its rooms (so it can tell them), then forgets it.
func (h handler) OnClose(c *gateway.Conn, code int, reason string) {
	ac, box, q, ok := h.parts(c)
	if !ok { // the upgrade never reached OnOpen's first line
		h.wrap(c, nil)
		ac, box, q, _ = h.parts(c)
	}
	h.log.Debug("connection closed", "conn", c.ID(), "remote", c.RemoteAddr(), "code", code)
	h.tokens.stop(c)
	closed := func() {
		h.guard(c, "OnClose", func() { h.app.OnClose(ac, code) })
		if h.events != nil {
			h.events.close(c, code, h.hub.ConnUser(c), h.hub.ConnRooms(c))
		}
		if h.hook != nil {
			h.hook.close(c, q, code, reason)
		}
		h.hub.Remove(c)
	}
	if h.inline {
		closed()
		return
	}
	box.postLast(closed)
}
