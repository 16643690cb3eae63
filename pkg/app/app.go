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
	// or 4000–4999 for the application's own) and a reason.
	Close(code int, reason string)
}

// App is the per-connection side of an application.
type App interface {
	// OnOpen runs when a client has connected. An error closes the
	// connection (with the code of a *CloseError, 1011 otherwise).
	OnOpen(c Conn) error
	// OnMessage runs for every message the client sends.
	OnMessage(c Conn, m Message)
	// OnClose runs once when the connection has ended, with the close code
	// sent or received (1006 when the client vanished without one).
	OnClose(c Conn, code int)
}

// Worker is what a worker offers an application.
type Worker interface {
	// Broadcast sends m to every connection of the cluster, through the
	// bus: at most once each.
	Broadcast(m Message) error
	// Logger is the worker's logger.
	Logger() *slog.Logger
}

// WorkerStarter is implemented by applications that need the worker's
// services. StartWorker runs before the worker accepts connections; an error
// stops the worker from starting.
type WorkerStarter interface {
	StartWorker(ctx context.Context, w Worker) error
}

// Cluster is what the master offers an application: work done once for the
// whole cluster.
type Cluster interface {
	// Broadcast sends m to every connection of the cluster.
	Broadcast(m Message) error
	// Every calls fn every d until the cluster stops; calls do not overlap.
	Every(d time.Duration, fn func(ctx context.Context))
	// Logger is the master's logger.
	Logger() *slog.Logger
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
