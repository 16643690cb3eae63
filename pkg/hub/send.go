package hub

import (
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// The sends publish to the bus and return; delivery is at most once (core
// NATS), in publish order for messages from one worker.

// Broadcast sends m to every connection of the cluster.
func (h *Hub) Broadcast(m app.Message) error { return h.opts.Bus.PublishAll(busMsg(m)) }

// SendTo sends m to the connection id, wherever it lives.
func (h *Hub) SendTo(id string, m app.Message) error { return h.opts.Bus.PublishConn(id, busMsg(m)) }

// SendToRoom sends m to every member of room except the connection id
// except ("" for none).
func (h *Hub) SendToRoom(room string, m app.Message, except string) error {
	if err := checkName(room); err != nil {
		return err
	}
	bm := busMsg(m)
	bm.Exclude = except
	return h.opts.Bus.PublishRoom(room, bm)
}

// SendToUser sends m to every connection bound to uid.
func (h *Hub) SendToUser(uid string, m app.Message) error {
	if err := checkName(uid); err != nil {
		return err
	}
	return h.opts.Bus.PublishUser(uid, busMsg(m))
}

// CloseConn closes the connection id, wherever it lives, with code and
// reason.
func (h *Hub) CloseConn(id string, code int, reason string) error {
	return h.Command(id, bus.Command{Close: true, Code: code, Reason: reason})
}

// Command asks the connection id, wherever it lives, to join or leave a
// room, to be bound or unbound, or to close, as a backend does.
func (h *Hub) Command(id string, cmd bus.Command) error { return h.opts.Bus.PublishCommand(id, cmd) }

func busMsg(m app.Message) bus.Message { return bus.Message{Binary: m.Binary, Data: m.Data} }
