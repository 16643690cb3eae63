package bus

import (
	"strconv"

	"github.com/nats-io/nats.go"
)

// Header names carried by bus messages.
const (
	// HeaderOp holds "binary" for a binary WebSocket message; absent or
	// anything else means text.
	HeaderOp = "Wsfleet-Op"
	// HeaderExclude holds a connection id that must not receive the message
	// (a sender excluding itself).
	HeaderExclude = "Wsfleet-Exclude"
	// HeaderConn holds the connection id a message on a worker's subject is
	// for.
	HeaderConn = "Wsfleet-Conn"
	// HeaderClose, on a worker's subject, asks to close the connection:
	// "<code> <reason>".
	HeaderClose = "Wsfleet-Close"
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
	// Conn is the target connection of a message to one connection.
	Conn string
	// Close, with Conn, asks to close that connection with CloseCode and
	// Data as the reason, instead of sending Data.
	Close     bool
	CloseCode int
}

func (m Message) natsMsg(subject string) *nats.Msg {
	nm := &nats.Msg{Subject: subject, Data: m.Data}
	if m.Binary || m.Exclude != "" || m.Conn != "" || m.Close {
		nm.Header = nats.Header{}
		if m.Binary {
			nm.Header.Set(HeaderOp, "binary")
		}
		if m.Exclude != "" {
			nm.Header.Set(HeaderExclude, m.Exclude)
		}
		if m.Conn != "" {
			nm.Header.Set(HeaderConn, m.Conn)
		}
		if m.Close {
			nm.Header.Set(HeaderClose, strconv.Itoa(m.CloseCode))
		}
	}
	return nm
}

func messageOf(nm *nats.Msg) Message {
	m := Message{Data: nm.Data}
	if nm.Header != nil {
		m.Binary = nm.Header.Get(HeaderOp) == "binary"
		m.Exclude = nm.Header.Get(HeaderExclude)
		m.Conn = nm.Header.Get(HeaderConn)
		if v := nm.Header.Get(HeaderClose); v != "" {
			m.Close = true
			m.CloseCode, _ = strconv.Atoi(v) // 0: the receiver picks 1000
		}
	}
	return m
}
