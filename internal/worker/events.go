package worker

import (
	"encoding/json"
	"log/slog"
	"net/url"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// Connection events for backends in any language (-events), published as
// JSON on <prefix>.events.open, .message and .close. docs/backend.md is their
// reference; keep the two in step.

// OpenEvent is published when a client has connected.
type OpenEvent struct {
	Conn   string              `json:"conn"`
	Worker bus.WorkerID        `json:"worker"`
	Remote string              `json:"remote"`
	URI    string              `json:"uri"`
	Query  map[string][]string `json:"query"`
	// Header holds only the headers -events-headers names.
	Header      map[string]string `json:"header"`
	Subprotocol string            `json:"subprotocol,omitempty"`
	// UID is the user the connection is bound to when it opens: its
	// token's sub (-jwt-*), or one the application bound in OnOpen.
	UID string `json:"uid,omitempty"`
}

// MessageEvent is published for every message a client sends: text in Text,
// binary base64-encoded in Data.
type MessageEvent struct {
	Conn   string `json:"conn"`
	Binary bool   `json:"binary"`
	Text   string `json:"text,omitempty"`
	Data   []byte `json:"data,omitempty"`
}

// CloseEvent is published when a connection has ended.
type CloseEvent struct {
	Conn  string   `json:"conn"`
	Code  int      `json:"code"`
	UID   string   `json:"uid,omitempty"`
	Rooms []string `json:"rooms,omitempty"`
}

// events publishes connection events; a nil *events publishes nothing.
type events struct {
	bc   *bus.Client
	self bus.WorkerID
	log  *slog.Logger
}

func (e *events) publish(kind string, v any) {
	if e == nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		err = e.bc.PublishEvent(kind, b)
	}
	if err != nil {
		e.log.Warn("event not published", "kind", kind, "err", err)
	}
}

func (e *events) open(c *gateway.Conn, header map[string]string, uid string) {
	if e == nil {
		return
	}
	if header == nil {
		header = map[string]string{}
	}
	ev := OpenEvent{Conn: c.ID(), Worker: e.self, Remote: c.RemoteAddr(), URI: c.RequestURI(),
		Header: header, Subprotocol: c.Subprotocol(), Query: map[string][]string{}, UID: uid}
	if u, err := url.ParseRequestURI(c.RequestURI()); err == nil {
		ev.Query = u.Query() // with -jwt-*, without the token (withoutToken)
	}
	e.publish("open", ev)
}

func (e *events) message(c *gateway.Conn, m gateway.Message) {
	if e == nil {
		return
	}
	ev := MessageEvent{Conn: c.ID(), Binary: m.Binary}
	if m.Binary {
		ev.Data = m.Data // marshalled now, while m.Data is valid
	} else {
		ev.Text = string(m.Data)
	}
	e.publish("message", ev)
}

func (e *events) close(c *gateway.Conn, code int, uid string, rooms []string) {
	e.publish("close", CloseEvent{Conn: c.ID(), Code: code, UID: uid, Rooms: rooms})
}
