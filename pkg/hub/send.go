package hub

import "github.com/wsfleet/wsfleet/pkg/bus"

// The sends publish to the bus and return; delivery is at most once (core
// NATS), in publish order for messages from one worker.

// SendAll sends m to every connection of the cluster.
func (h *Hub) SendAll(m bus.Message) error { return h.opts.Bus.PublishAll(m) }

// SendRoom sends m to every member of room, except the connection
// m.Exclude names, if any.
func (h *Hub) SendRoom(room string, m bus.Message) error {
	if err := checkName(room); err != nil {
		return err
	}
	return h.opts.Bus.PublishRoom(room, m)
}

// SendUser sends m to every connection bound to uid.
func (h *Hub) SendUser(uid string, m bus.Message) error {
	if err := checkName(uid); err != nil {
		return err
	}
	return h.opts.Bus.PublishUser(uid, m)
}

// SendConn sends m to the connection id, wherever it lives.
func (h *Hub) SendConn(id string, m bus.Message) error {
	m.Conn = id
	return h.opts.Bus.PublishConn(m)
}

// CloseConn closes the connection id, wherever it lives, with code and
// reason.
func (h *Hub) CloseConn(id string, code int, reason string) error {
	return h.opts.Bus.PublishConn(bus.Message{Conn: id, Close: true, CloseCode: code, Data: []byte(reason)})
}

// Command asks the connection id, wherever it lives, to join or leave a
// room or to be bound or unbound (m.Join, m.Leave, m.Bind, m.Unbind).
func (h *Hub) Command(id string, m bus.Message) error {
	m.Conn = id
	return h.opts.Bus.PublishConn(m)
}
