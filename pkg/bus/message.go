package bus

import "github.com/nats-io/nats.go"

// Header names carried by bus messages.
const (
	// HeaderOp holds "binary" for a binary WebSocket message; absent or
	// anything else means text.
	HeaderOp = "Wsfleet-Op"
	// HeaderExclude holds a connection id that must not receive the message
	// (a sender excluding itself).
	HeaderExclude = "Wsfleet-Exclude"
)

// Message is one WebSocket message on its way to connections.
type Message struct {
	// Binary selects a binary frame; false sends a text frame.
	Binary bool
	// Data is the payload. A received Message's Data is owned by the
	// handler.
	Data []byte
	// Exclude, when set, is the id of a connection that must not get it.
	Exclude string
}

func (m Message) natsMsg(subject string) *nats.Msg {
	nm := &nats.Msg{Subject: subject, Data: m.Data}
	if m.Binary || m.Exclude != "" {
		nm.Header = nats.Header{}
		if m.Binary {
			nm.Header.Set(HeaderOp, "binary")
		}
		if m.Exclude != "" {
			nm.Header.Set(HeaderExclude, m.Exclude)
		}
	}
	return nm
}

func messageOf(nm *nats.Msg) Message {
	m := Message{Data: nm.Data}
	if nm.Header != nil {
		m.Binary = nm.Header.Get(HeaderOp) == "binary"
		m.Exclude = nm.Header.Get(HeaderExclude)
	}
	return m
}
