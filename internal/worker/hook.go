package worker

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/internal/webhook"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// Close codes of the webhook (docs/webhook.md).
const (
	// statusRefused is a refusal's default code, and an open answered 403.
	statusRefused = 4003
	// reasonBackendDown closes a connection whose open event failed: the
	// webhook authenticates, so an open it could not answer is refused
	// (fail closed) with 1011.
	reasonBackendDown = "backend unavailable"
)

// hook sends a worker's connection events to -webhook and does the
// commands in the answers; a nil *hook sends nothing.
type hook struct {
	client *webhook.Client
	hub    *hub.Hub
	log    *slog.Logger
}

// open POSTs c's open event and waits for the answer, on c's handshake
// goroutine: the connection reads no message before it. It returns the
// close a refusal or a failure asks for, or c's queue for the rest of its
// events.
func (k *hook) open(c *gateway.Conn, header map[string]string, uid string) (*webhook.Queue, error) {
	if k == nil {
		return nil, nil
	}
	ev := &webhook.Open{Event: webhook.KindOpen, Conn: c.ID(), Remote: c.RemoteAddr(), Path: pathOf(c.RequestURI()),
		Query: map[string][]string{}, Header: header, Subprotocol: c.Subprotocol(), UID: uid}
	if ev.Header == nil {
		ev.Header = map[string]string{}
	}
	if u, err := url.ParseRequestURI(c.RequestURI()); err == nil {
		ev.Query = u.Query() // with -jwt-*, without the token (withoutToken)
	}
	r, err := k.client.Call(webhook.KindOpen, c.ID(), ev)
	if err != nil {
		return nil, &gateway.CloseError{Code: ws.StatusInternalServerError, Reason: reasonBackendDown}
	}
	if rf := r.Refuse; rf != nil {
		code, reason := rf.Code, rf.Reason
		if code == 0 {
			code = statusRefused
		}
		if reason == "" {
			reason = "refused"
		}
		k.log.Debug("webhook refused a connection", "conn", c.ID(), "code", code, "reason", reason)
		return nil, &gateway.CloseError{Code: gateway.StatusCode(code), Reason: reason}
	}
	k.apply(c, r)
	return k.client.Queue(c.ID(), func(r *webhook.Reply) { k.apply(c, r) }), nil
}

// message queues a message event; a full queue closes c with 1013, as a
// full mailbox does.
func (k *hook) message(c *gateway.Conn, q *webhook.Queue, m gateway.Message) {
	if q == nil {
		return
	}
	ev := &webhook.Message{Conn: c.ID(), Binary: m.Binary, UID: k.hub.ConnUser(c)}
	if m.Binary {
		ev.Data = base64.StdEncoding.EncodeToString(m.Data)
	} else {
		ev.Data = string(m.Data)
	}
	ok, err := q.Post(ev)
	switch {
	case err != nil:
		k.log.Warn("webhook message event not queued", "conn", c.ID(), "err", err)
	case !ok:
		c.Close(gateway.StatusTryAgainLater, "too many messages pending")
	}
}

// close queues c's close event behind its messages.
func (k *hook) close(c *gateway.Conn, q *webhook.Queue, code int, reason string) {
	if q == nil {
		return
	}
	ev := &webhook.Close{Conn: c.ID(), Code: code, Reason: reason, UID: k.hub.ConnUser(c), Rooms: k.hub.ConnRooms(c)}
	if err := q.PostLast(ev); err != nil {
		k.log.Warn("webhook close event not queued", "conn", c.ID(), "err", err)
	}
}

// apply does an answer's commands for c, in the order of webhook.Reply's
// fields, as the hub does a backend's NATS commands: a failed one is
// logged, and the next ones are still done. A join or bind returns once
// its subscription is in place, so a room message published after the
// answer reaches c.
func (k *hook) apply(c *gateway.Conn, r *webhook.Reply) {
	var errs []error
	for _, room := range r.Join {
		errs = append(errs, k.hub.Join(c, room))
	}
	for _, room := range r.Leave {
		errs = append(errs, k.hub.Leave(c, room))
	}
	if r.Bind != "" {
		errs = append(errs, k.hub.Bind(c, r.Bind))
	}
	if r.Unbind {
		errs = append(errs, k.hub.Unbind(c))
	}
	for _, p := range r.Publish {
		errs = append(errs, k.publish(p))
	}
	for _, s := range r.Reply {
		if err := c.Send(ws.OpText, []byte(s)); err != nil {
			break // closing: the rest would fail too
		}
	}
	if err := errors.Join(errs...); err != nil {
		level := slog.LevelWarn
		if errors.Is(err, hub.ErrNotLocal) {
			level = slog.LevelDebug // closed meanwhile
		}
		k.log.Log(context.Background(), level, "webhook command failed", "conn", c.ID(), "err", err)
	}
	if cl := r.Close; cl != nil {
		code := ws.StatusNormalClosure
		if cl.Code != 0 {
			code = gateway.StatusCode(cl.Code) // Close logs a code that may not be sent and sends 1011
		}
		c.Close(code, cl.Reason)
	}
}

// publish sends one of an answer's messages.
func (k *hook) publish(p webhook.Publish) error {
	m := app.Message{Binary: p.Binary, Data: []byte(p.Data)}
	if p.Binary {
		b, err := base64.StdEncoding.DecodeString(p.Data)
		if err != nil {
			return fmt.Errorf("publish: binary data is not base64: %w", err)
		}
		m.Data = b
	}
	switch {
	case p.Room != "":
		return k.hub.SendToRoom(p.Room, m, "")
	case p.User != "":
		return k.hub.SendToUser(p.User, m)
	case p.Conn != "":
		return k.hub.SendTo(p.Conn, m)
	default:
		return k.hub.Broadcast(m)
	}
}
