package worker

import (
	"errors"
	"log/slog"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// handler adapts the gateway's callbacks to the application's.
type handler struct{ app app.App }

// conn is an application's view of a gateway connection.
type conn struct{ *gateway.Conn }

func (c conn) Send(m app.Message) error {
	op := ws.OpText
	if m.Binary {
		op = ws.OpBinary
	}
	return c.Conn.Send(op, m.Data)
}

func (c conn) Close(code int, reason string) { c.Conn.Close(ws.StatusCode(code), reason) }

func (h handler) OnOpen(c *gateway.Conn) error {
	ac := conn{c}
	c.Value = ac
	if err := h.app.OnOpen(ac); err != nil {
		var ce *app.CloseError
		if errors.As(err, &ce) {
			return &gateway.CloseError{Code: ws.StatusCode(ce.Code), Reason: ce.Reason}
		}
		return err
	}
	return nil
}

func (h handler) OnMessage(c *gateway.Conn, m gateway.Message) {
	h.app.OnMessage(c.Value.(conn), app.Message{Binary: m.Binary, Data: m.Data})
}

func (h handler) OnClose(c *gateway.Conn, code int, _ string) {
	ac, ok := c.Value.(conn)
	if !ok { // OnOpen never ran to the point of setting it
		ac = conn{c}
	}
	h.app.OnClose(ac, code)
}

// services is what the worker offers the application.
type services struct{ w *Worker }

func (s services) Broadcast(m app.Message) error {
	return s.w.bc.PublishAll(bus.Message{Binary: m.Binary, Data: m.Data})
}

func (s services) Logger() *slog.Logger { return s.w.log }
