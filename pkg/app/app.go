package app

import (
	"context"
	"log/slog"
	"time"
)

// Message is one WebSocket message.
type Message struct {
	// Binary selects a binary message; false is text (UTF-8).
	Binary bool
	// Data is the payload. In OnMessage it is only valid until the callback
	// returns: copy what you keep.
	Data []byte
}

// Text returns a text message.
func Text(s string) Message { return Message{Data: []byte(s)} }

// Binary returns a binary message.
func Binary(b []byte) Message { return Message{Binary: true, Data: b} }

// Conn is a client connection as an application sees it. Its methods are
// safe to call from any goroutine and never block on the network.
type Conn interface {
	// ID is the connection's cluster-wide id.
	ID() string
	// RemoteAddr is the client's address, host:port.
	RemoteAddr() string
	// Send queues m for this connection. It fails once the connection is
	// closing, or when the client has fallen more than the send buffer
	// behind (the connection is then closed with 1008).
	Send(m Message) error
	// Close starts the closing handshake with a close code (RFC 6455 §7.4,
	// or 4000–4999 for the application's own) and a reason. A code that may
	// not be sent (outside 1000–1003, 1007–1014 and 3000–4999, except 1005
	// for an empty close frame) is logged and sent as 1011; the reason is
	// cut to 123 bytes on a character boundary.
	Close(code int, reason string)
	// Value and SetValue keep one value of the application's per
	// connection. Use them from the connection's own callbacks.
	Value() any
	SetValue(v any)
	// Handshake is the client's upgrade request (its path, query, headers,
	// cookies, and its address after -trusted-proxy) while OnOpen runs,
	// and nil once OnOpen has returned: keep what you need of it (with
	// SetValue), not the Handshake, as holding every connection's headers
	// would cost memory per connection. Call it from OnOpen.
	Handshake() *Handshake
}

// App is the per-connection side of an application.
type App interface {
	// OnOpen runs when a client has connected; c.Handshake() is its
	// upgrade request. An error closes the connection (with the code of a
	// *CloseError, 1011 otherwise). To refuse the upgrade itself, with an
	// HTTP status, from what the request holds, implement Admitter: its
	// value is c.Value() here.
	OnOpen(c Conn) error
	// OnMessage runs for every message the client sends.
	OnMessage(c Conn, m Message)
	// OnClose runs once when the connection has ended, with the close code
	// sent or received (1006 when the client vanished without one).
	OnClose(c Conn, code int)
}

// Inline is implemented by applications whose OnMessage and OnClose never
// block (no network round trip, no lock held long): the worker then calls
// them straight from the connection engine's poller, which is cheapest.
// Other applications' callbacks run on a goroutine of the connection's own
// while it has work, so they may block (presence queries, JoinRoom) without
// delaying other connections; a connection with more than 256 messages,
// or 1 MiB of them, waiting (or adding to a worker's 64 MiB of waiting
// messages) is closed with 1013; a message is always taken when nothing
// waits before it. OnOpen always runs before the connection's first read
// and should be quick.
type Inline interface {
	// InlineCallbacks is a marker.
	InlineCallbacks()
}

// Worker is what a worker offers an application: GatewayWorker's calls,
// working the same from any worker on any host. Sends go through the bus:
// at most once, and in order for messages from one worker. Presence calls
// (IsOnline, the counts, RoomMembers) ask every worker of the cluster and
// are as fresh as the call; they take a network round trip.
type Worker interface {
	// Broadcast sends m to every connection of the cluster.
	Broadcast(m Message) error
	// SendTo sends m to one connection, by id.
	SendTo(connID string, m Message) error
	// SendToRoom sends m to every member of room except the connection id
	// except ("" for none).
	SendToRoom(room string, m Message, except string) error
	// SendToUser sends m to every connection bound to uid.
	SendToUser(uid string, m Message) error
	// JoinRoom and LeaveRoom change c's rooms; Rooms lists them. c is one
	// of this worker's connections (from a callback).
	JoinRoom(c Conn, room string) error
	LeaveRoom(c Conn, room string) error
	Rooms(c Conn) []string
	// BindUser binds c to uid (a user may have many connections);
	// UnbindUser removes it; UserOf tells it ("" for none).
	BindUser(c Conn, uid string) error
	UnbindUser(c Conn) error
	UserOf(c Conn) string
	// CloseConn closes one connection, by id, with code and reason.
	CloseConn(connID string, code int, reason string) error
	// IsOnline reports whether a connection id is connected.
	IsOnline(ctx context.Context, connID string) (bool, error)
	// UserConnections counts uid's connections (0: offline).
	UserConnections(ctx context.Context, uid string) (int, error)
	// ConnectionCount counts the cluster's connections.
	ConnectionCount(ctx context.Context) (int, error)
	// RoomCount counts room's members; RoomMembers lists them by id.
	RoomCount(ctx context.Context, room string) (int, error)
	RoomMembers(ctx context.Context, room string) ([]Member, error)
	// RoomUsers pages the users of room's members: the user ids after
	// after ("" for the first page), sorted, each once, at most limit of
	// them. A page costs about limit names per worker, however large the
	// room.
	RoomUsers(ctx context.Context, room, after string, limit int) (UserPage, error)
	// Logger is the worker's logger.
	Logger() *slog.Logger
	// RefreshToken verifies a new connection token for c, as the
	// handshake verified the first, and moves c's expiry to the new
	// token's exp (none: never), so -jwt-expire-close does not close it.
	// The token must name c's user (its sub); ErrNoTokens without -jwt-*.
	// At most 4 calls per connection in 10 s are verified; the others
	// fail at once (a signature check costs up to 100 µs of CPU).
	RefreshToken(c Conn, token string) (expires time.Time, err error)
}

// Member is one connection of a room, and the user it is bound to ("" for
// none).
type Member struct {
	ConnID string
	UID    string
}

// UserPage is one page of a room's users (Worker.RoomUsers).
type UserPage struct {
	// Users are the page's user ids, sorted.
	Users []string
	// More says more users follow the last one: ask again after it.
	More bool
	// Count is the room's connections, bound to a user or not.
	Count int
}

// MessageLimiter is implemented by applications whose protocol needs no
// message above a size: the worker then reads no more than that from a
// client, and closes one that sends a larger message with 1009, before the
// rest of it is read, whatever -max-message allows.
type MessageLimiter interface {
	// MaxMessage is the largest message the application takes, in bytes.
	MaxMessage() int64
}

// WorkerStarter is implemented by applications that need the worker's
// services. StartWorker runs before the worker accepts connections; an error
// stops the worker from starting.
type WorkerStarter interface {
	StartWorker(ctx context.Context, w Worker) error
}

// Cluster is what the master offers an application: work done once for the
// whole cluster, on whichever host leads it.
type Cluster interface {
	// Broadcast sends m to every connection of the cluster.
	Broadcast(m Message) error
	// Every calls fn once per period d for the whole cluster: on the
	// leading master only, at wall-clock multiples of d (so hosts agree on
	// the ticks; keep their clocks in sync). Calls do not overlap. When the
	// leader dies, another master takes over within about a second.
	Every(d time.Duration, fn func(ctx context.Context, t Tick))
	// Logger is the master's logger.
	Logger() *slog.Logger
}

// Tick is one firing of a cluster timer.
type Tick interface {
	// Broadcast sends m to every connection of the cluster once for this
	// tick: should two masters both send it while leadership changes
	// hands, every worker delivers only the first.
	Broadcast(m Message) error
	// Seq numbers the tick: the wall-clock time divided by the period.
	Seq() uint64
}

// ClusterStarter is implemented by applications with cluster-wide work.
// StartCluster runs once, in the master, before the workers start.
type ClusterStarter interface {
	StartCluster(ctx context.Context, c Cluster) error
}

// CloseError closes a connection from OnOpen with Code and Reason.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return "app: close: " + e.Reason }
