package bus

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Header names carried by bus messages. A backend in any language sets them
// (docs/backend.md); this file alone reads and writes them.
const (
	// HeaderOp holds "binary" for a binary WebSocket message; absent or
	// anything else means text.
	HeaderOp = "Wsfleet-Op"
	// HeaderExclude holds a connection id that must not receive the message
	// (a sender excluding itself).
	HeaderExclude = "Wsfleet-Exclude"
	// HeaderConn holds the connection id a message or a command on a
	// worker's subject is for.
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
	// HeaderTick marks a cluster timer's broadcast with its Tick,
	// "<timer>:<seq>", so a worker delivers each tick once even when two
	// masters sent it during a change of leader.
	HeaderTick = "Wsfleet-Tick"
	// HeaderSent holds the time a broadcast was published, in Unix
	// nanoseconds, from which a worker measures its delivery latency.
	// A message without it is not measured.
	HeaderSent = "Wsfleet-Sent"
	// HeaderOffset holds a room message's position in the room's history
	// (package history): the receiving worker holds it back from a member
	// whose replay already delivered it.
	HeaderOffset = "Wsfleet-Offset"
	// HeaderSince, with HeaderJoin, joins the room since a position of
	// its history, "<offset>:<epoch>": the kept messages after it are
	// replayed first (package history).
	HeaderSince = "Wsfleet-Since"
	// HeaderSeq holds "<publisher>:<sequence>": the id of the bus client
	// that published the message (random, per process connection) and its
	// count of messages published so far. A worker receiving a hand-off
	// uses it to deliver each message exactly once across the move (NATS
	// keeps one publisher's order on a subject); it is advisory: a message
	// without it, or with one that does not parse, is delivered as any
	// other.
	HeaderSeq = "Wsfleet-Seq"
)

// MaxPublisher is the longest publisher id HeaderSeq may carry; a longer
// one is ignored (the message counts as unstamped).
const MaxPublisher = 32

// Message is one WebSocket message on its way to connections: to every
// connection, a room's, a user's, or one connection's.
type Message struct {
	// Binary selects a binary frame; false sends a text frame.
	Binary bool
	// Data is the payload. A received Message's Data is owned by the
	// handler.
	Data []byte
	// Exclude, when set, is the id of a connection that must not get it.
	Exclude string
	// Tick, on a broadcast, is the cluster timer tick that sent it; nil for
	// any other message, and for a HeaderTick that ParseTick refuses.
	Tick *Tick
	// Sent is when the message was published (HeaderSent); zero when it
	// carries no such header. PublishAll, PublishRoom and PublishUser set
	// it when it is zero.
	Sent time.Time
	// Offset is the message's offset in its room's history (HeaderOffset);
	// 0 for a message not kept.
	Offset uint64
	// Pub and Seq are the received message's HeaderSeq: its publisher's id
	// and sequence number; "" and 0 when it carries none (or one that does
	// not parse). The publishing client sets them; a value given here is
	// not sent.
	Pub string
	Seq uint64
}

// stamped is m with Sent set to now, unless it was set.
func stamped(m Message) Message {
	if m.Sent.IsZero() {
		m.Sent = time.Now()
	}
	return m
}

// Command asks something of one connection, on its worker's subject: to
// join or leave a room, to be bound to a user or unbound, to close. One
// command may ask several; they are done in that order, the close last.
type Command struct {
	// Join, Leave and Bind name a room or a user; "" asks nothing.
	Join, Leave, Bind string
	// Since, with Join, is HeaderSince's value: "<offset>:<epoch>".
	Since string
	// Unbind removes the connection's user binding.
	Unbind bool
	// Reply is the subject the command was sent to be answered on (a NATS
	// request; RequestCommand), or "": see ReplyCommand.
	Reply string
	// Close closes the connection with Code and Reason. Code 0 means none
	// was given (the receiver sends 1000); a header that is not a number
	// arrives as -1, which the receiver refuses like any code that may not
	// be sent.
	Close  bool
	Code   int
	Reason string
}

// empty reports whether c asks nothing: a message on a worker's subject
// with no command header is a Message for its connection.
func (c Command) empty() bool {
	return !c.Close && c.Join == "" && c.Leave == "" && c.Bind == "" && !c.Unbind
}

// natsMsg encodes m for subject; conn, when set, is the connection it is
// for (on a worker's subject).
func (m Message) natsMsg(subject, conn string) *nats.Msg {
	nm := &nats.Msg{Subject: subject, Data: m.Data}
	if !m.Binary && m.Exclude == "" && m.Tick == nil && conn == "" && m.Sent.IsZero() && m.Offset == 0 {
		return nm // no header at all
	}
	nm.Header = nats.Header{}
	if m.Binary {
		nm.Header.Set(HeaderOp, "binary")
	}
	set(nm.Header, HeaderExclude, m.Exclude)
	set(nm.Header, HeaderConn, conn)
	if m.Tick != nil {
		nm.Header.Set(HeaderTick, m.Tick.String())
	}
	if !m.Sent.IsZero() {
		nm.Header.Set(HeaderSent, strconv.FormatInt(m.Sent.UnixNano(), 10))
	}
	if m.Offset != 0 {
		nm.Header.Set(HeaderOffset, strconv.FormatUint(m.Offset, 10))
	}
	return nm
}

// natsMsg encodes c for conn on subject (its worker's).
func (c Command) natsMsg(subject, conn string) *nats.Msg {
	nm := &nats.Msg{Subject: subject, Header: nats.Header{}}
	set(nm.Header, HeaderConn, conn)
	set(nm.Header, HeaderJoin, c.Join)
	set(nm.Header, HeaderSince, c.Since)
	set(nm.Header, HeaderLeave, c.Leave)
	set(nm.Header, HeaderBind, c.Bind)
	if c.Unbind {
		nm.Header.Set(HeaderUnbind, "1")
	}
	if c.Close {
		nm.Header.Set(HeaderClose, strconv.Itoa(c.Code))
		nm.Data = []byte(c.Reason)
	}
	return nm
}

func set(h nats.Header, k, v string) {
	if v != "" {
		h.Set(k, v)
	}
}

// messageOf decodes a message's payload and its Wsfleet-Op, -Exclude and
// -Tick headers; command headers are commandOf's.
func messageOf(nm *nats.Msg) Message {
	m := Message{Data: nm.Data}
	if nm.Header == nil {
		return m
	}
	m.Binary = nm.Header.Get(HeaderOp) == "binary"
	m.Exclude = nm.Header.Get(HeaderExclude)
	if v := nm.Header.Get(HeaderTick); v != "" {
		if t, err := ParseTick(v); err == nil {
			m.Tick = &t
		}
	}
	if v := nm.Header.Get(HeaderSent); v != "" {
		if ns, err := strconv.ParseInt(v, 10, 64); err == nil && ns > 0 {
			m.Sent = time.Unix(0, ns)
		}
	}
	if v := nm.Header.Get(HeaderOffset); v != "" {
		m.Offset, _ = strconv.ParseUint(v, 10, 64) // not a number: 0, not kept
	}
	m.Pub, m.Seq = parseSeq(nm.Header.Get(HeaderSeq))
	return m
}

// parseSeq reads a HeaderSeq value; anything malformed is "", 0.
func parseSeq(v string) (string, uint64) {
	pub, n, ok := strings.Cut(v, ":")
	if !ok || pub == "" || len(pub) > MaxPublisher {
		return "", 0
	}
	seq, err := strconv.ParseUint(n, 10, 64)
	if err != nil || seq == 0 {
		return "", 0
	}
	return pub, seq
}

// commandOf decodes the command headers of a message on a worker's
// subject; an empty Command means none.
func commandOf(nm *nats.Msg) Command {
	var c Command
	if nm.Header == nil {
		return c
	}
	c.Join, c.Leave, c.Bind = nm.Header.Get(HeaderJoin), nm.Header.Get(HeaderLeave), nm.Header.Get(HeaderBind)
	c.Unbind = nm.Header.Get(HeaderUnbind) != ""
	c.Since = nm.Header.Get(HeaderSince)
	c.Reply = nm.Reply
	if vs := nm.Header.Values(HeaderClose); len(vs) > 0 {
		c.Close, c.Reason = true, string(nm.Data)
		if v := strings.TrimSpace(vs[0]); v != "" {
			var err error
			if c.Code, err = strconv.Atoi(v); err != nil {
				c.Code = -1 // not a number: the receiver refuses it
			}
		}
	}
	return c
}

// connOf is the connection a message on a worker's subject is for.
func connOf(nm *nats.Msg) string {
	if nm.Header == nil {
		return ""
	}
	return nm.Header.Get(HeaderConn)
}
