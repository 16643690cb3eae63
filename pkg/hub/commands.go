package hub

import (
	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// directTo returns the delivery of the messages on w's subject, one at a
// time through the subject's stream (stream.go).
func (h *Hub) directTo(w bus.WorkerID) func(string, bus.Message) {
	h.adoptMu.Lock()
	defer h.adoptMu.Unlock()
	if h.direct == nil {
		h.direct = make(map[bus.WorkerID]*stream)
	}
	s := h.direct[w]
	if s == nil {
		s = &stream{}
		h.direct[w] = s
	}
	return func(conn string, m bus.Message) { h.deliverDirect(s, conn, m) }
}

// directStream is the stream of w's subject, or nil.
func (h *Hub) directStream(w bus.WorkerID) *stream {
	h.adoptMu.Lock()
	defer h.adoptMu.Unlock()
	return h.direct[w]
}

// deliverDirect writes a message to one of this worker's connections.
func (h *Hub) deliverDirect(s *stream, conn string, m bus.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h.beforeLocked(s, m, conn)
	defer h.afterLocked(s, m)
	if c := h.opts.Conns.Lookup(conn); c != nil && !h.skipLocked(s, c, m, h.receiving.Load()) { // else gone meanwhile: at most once
		c.Send(opOf(m.Binary), m.Data)
	}
}

// deliverCommand does a backend's command for one of this worker's
// connections. Commands are not acknowledged (docs/backend.md): a join or
// bind does not wait for its subscription, which would hold up every other
// message to this worker's connections behind a NATS round trip.
func (h *Hub) deliverCommand(conn string, cmd bus.Command) {
	c := h.opts.Conns.Lookup(conn)
	if c == nil {
		if cmd.Join != "" && cmd.Since != "" {
			h.answerSince(cmd.Reply, sinceAnswer{Error: "no such connection"})
		}
		return // gone meanwhile: at most once
	}
	var err error
	switch {
	case cmd.Join != "" && cmd.Since != "":
		err = h.joinSinceCommand(c, cmd.Join, cmd.Since, cmd.Reply)
	case cmd.Join != "":
		_, err = h.join(c, cmd.Join)
	case cmd.Leave != "":
		err = h.Leave(c, cmd.Leave)
	case cmd.Bind != "":
		_, err = h.bind(c, cmd.Bind)
	case cmd.Unbind:
		err = h.Unbind(c)
	}
	if err != nil {
		h.log.Warn("command failed", "conn", conn, "err", err)
	}
	if cmd.Close {
		code := ws.StatusNormalClosure // Wsfleet-Close with no code
		if cmd.Code != 0 {
			code = gateway.StatusCode(cmd.Code)
		}
		c.Close(code, cmd.Reason) // which logs a code that may not be sent and sends 1011
	}
}
