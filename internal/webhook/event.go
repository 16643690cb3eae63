package webhook

import (
	"bytes"
	"encoding/json"
)

// The events' names, in the "event" field of every request and in its
// X-Wsfleet-Event header.
const (
	KindOpen    = "open"
	KindMessage = "message"
	KindClose   = "close"
)

// Open is the body of an open event: the connection is upgraded, and
// reads no message until the backend has answered.
type Open struct {
	Event string `json:"event"` // KindOpen
	Conn  string `json:"conn"`
	// Remote is the client's address, as a trusted proxy reported it
	// (-trusted-proxy), else the peer's host:port.
	Remote string `json:"remote"`
	// Path and Query are the upgrade request's (with -jwt-*, without the
	// token parameter).
	Path  string              `json:"path"`
	Query map[string][]string `json:"query"`
	// Header holds the headers -events-headers names, and only those.
	Header      map[string]string `json:"header"`
	Subprotocol string            `json:"subprotocol,omitempty"`
	// UID is the user the connection's token bound it to (-jwt-*).
	UID string `json:"uid,omitempty"`
}

// Message is the body of a message event: text as it came, binary
// base64-encoded with Binary set.
type Message struct {
	Event  string `json:"event"` // KindMessage
	Conn   string `json:"conn"`
	Data   string `json:"data"`
	Binary bool   `json:"binary,omitempty"`
	// UID is the user the connection is bound to, if any.
	UID string `json:"uid,omitempty"`
}

// Close is the body of a close event, POSTed once the connection has
// ended, after its messages; its answer's commands are ignored.
type Close struct {
	Event  string   `json:"event"` // KindClose
	Conn   string   `json:"conn"`
	Code   int      `json:"code"`
	Reason string   `json:"reason,omitempty"`
	UID    string   `json:"uid,omitempty"`
	Rooms  []string `json:"rooms,omitempty"`
}

// Reply is what an answer may ask of its connection. The worker does it
// in field order: join, leave, bind, unbind, publish, reply, close; an
// open's Refuse before anything else, and instead of it.
type Reply struct {
	// Refuse, in the answer to an open, closes the connection at once with
	// its code (default 4003) and nothing else is done.
	Refuse *CloseCommand `json:"refuse,omitempty"`
	// Join and Leave name rooms; Bind a user, Unbind drops the binding.
	Join   List[string] `json:"join,omitempty"`
	Leave  List[string] `json:"leave,omitempty"`
	Bind   string       `json:"bind,omitempty"`
	Unbind bool         `json:"unbind,omitempty"`
	// Publish sends messages to rooms, users, connections or everyone, as
	// the HTTP API's /api/publish does.
	Publish List[Publish] `json:"publish,omitempty"`
	// Reply is sent to the connection, each string as a text message.
	Reply List[string] `json:"reply,omitempty"`
	// Close closes the connection, after the rest.
	Close *CloseCommand `json:"close,omitempty"`
}

// CloseCommand is a close code and reason. Code 0 means the default: 1000
// for a close, 4003 for a refusal.
type CloseCommand struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// Publish is one message to send: to Room, User or Conn (at most one of
// them; none: everyone). Data is text, or base64 with Binary.
type Publish struct {
	Data   string `json:"data"`
	Binary bool   `json:"binary,omitempty"`
	Room   string `json:"room,omitempty"`
	User   string `json:"user,omitempty"`
	Conn   string `json:"conn,omitempty"`
}

// List is one value or an array of them: "reply": "hi" and
// "reply": ["hi", "there"] both decode.
type List[T any] []T

// UnmarshalJSON decodes one T or an array of T; null is none.
func (l *List[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var a []T
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		*l = a
		return nil
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*l = List[T]{v}
	return nil
}

// empty reports whether r asks nothing.
func (r *Reply) empty() bool {
	return r.Refuse == nil && len(r.Join) == 0 && len(r.Leave) == 0 && r.Bind == "" && !r.Unbind &&
		len(r.Publish) == 0 && len(r.Reply) == 0 && r.Close == nil
}
