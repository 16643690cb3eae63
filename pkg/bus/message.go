package bus

import (
	"strconv"
	"strings"

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
	// HeaderClose, on a worker's subject, asks to close the connection
	// with this code; the payload is the reason.
	HeaderClose = "Wsfleet-Close"
	// HeaderJoin, HeaderLeave and HeaderBind, on a worker's subject, ask
	// the connection to join or leave the room, or to be bound to the user,
	// named by the header's value; HeaderUnbind (any value) removes its
	// binding. Such a message is a command only: its payload is not sent.
	HeaderJoin   = "Wsfleet-Join"
	HeaderLeave  = "Wsfleet-Leave"
	HeaderBind   = "Wsfleet-Bind"
	HeaderUnbind = "Wsfleet-Unbind"
	// HeaderTick marks a cluster timer's broadcast, "<timer>:<tick>", so a
	// worker delivers each tick once even when two masters sent it during a
	// change of leader.
	HeaderTick = "Wsfleet-Tick"
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
	// Data as the reason, instead of sending Data. CloseCode 0 means none
	// was given (the receiver sends 1000); a header that is not a number
	// arrives as -1.
	Close     bool
	CloseCode int
	// Join, Leave, Bind and Unbind, with Conn, are commands for that
	// connection (see HeaderJoin).
	Join, Leave, Bind string
	Unbind            bool
	// Tick, on a broadcast, names the cluster timer tick that sent it.
	Tick string
}

// IsCommand reports whether m asks something of its connection rather than
// carrying a message for it.
func (m Message) IsCommand() bool {
	return m.Close || m.Join != "" || m.Leave != "" || m.Bind != "" || m.Unbind
}

func (m Message) natsMsg(subject string) *nats.Msg {
	nm := &nats.Msg{Subject: subject, Data: m.Data}
	if m.Binary || m.Exclude != "" || m.Conn != "" || m.IsCommand() || m.Tick != "" {
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
		for k, v := range map[string]string{HeaderJoin: m.Join, HeaderLeave: m.Leave, HeaderBind: m.Bind} {
			if v != "" {
				nm.Header.Set(k, v)
			}
		}
		if m.Unbind {
			nm.Header.Set(HeaderUnbind, "1")
		}
		if m.Tick != "" {
			nm.Header.Set(HeaderTick, m.Tick)
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
		if vs := nm.Header.Values(HeaderClose); len(vs) > 0 {
			m.Close = true
			if v := strings.TrimSpace(vs[0]); v != "" {
				var err error
				if m.CloseCode, err = strconv.Atoi(v); err != nil {
					m.CloseCode = -1 // not a number: the receiver refuses it
				}
			}
		}
		m.Join, m.Leave, m.Bind = nm.Header.Get(HeaderJoin), nm.Header.Get(HeaderLeave), nm.Header.Get(HeaderBind)
		m.Unbind = nm.Header.Get(HeaderUnbind) != ""
		m.Tick = nm.Header.Get(HeaderTick)
	}
	return m
}
