// Package gateway is wsfleet's WebSocket connection engine: it accepts TCP
// connections, upgrades them with gobwas/ws's zero-copy upgrader (no net/http
// on the WebSocket path), reads and checks frames, keeps each connection's
// bounded write queue, answers pings, runs the close handshake and keeps the
// local registry of connections.
//
// # Two engines
//
// A plain TCP connection runs on the epoll engine (epoll.go): after the
// upgrade its socket leaves Go's netpoller and joins one of a few pollers
// (Options.Cores), each a goroutine with its own epoll set and read buffer. An idle
// connection holds no goroutine and no buffer: its Conn, a few hundred
// bytes, and its socket. A poller reads what a connection sent into its
// buffer and handles the frames in it: a message whole in the buffer is
// delivered from it; a message still arriving is kept as its bytes come, in
// pooled chunks, never from the length a header announces; a compressed
// message is inflated in bounded rounds. Timeouts are timestamps checked by
// one sweeper goroutine, not timers.
//
// A TLS connection (Options.TLS) stays on the goroutine engine
// (netconn.go), because crypto/tls needs a net.Conn: a reader goroutine for
// its whole life with a 1 KiB read buffer, plus crypto/tls's own record
// buffers, and a writer goroutine while output is queued. Both engines run
// the same frame core (frame.go).
//
// Both engines sit behind one internal transport, and a connection's
// closing handshake is one state machine on both (lifecycle.go).
//
// # Closing
//
// [Conn.Close], a server stop, or the client's close frame (answered with
// its own code) queues a close frame behind what is already queued; from
// then on Send fails with [ErrClosed] and messages still arriving are
// dropped. TCP is closed once the client's close frame is read and ours
// written, or after Options.CloseTimeout. A connection the server fails
// (the limits and protocol errors below, Options.IdleTimeout passing with
// nothing read, Handler.OnOpen returning an error) gets its close frame;
// then TCP is half-closed, and what the client still sends is read and
// dropped until it closes its side. OnClose reports the code of the first
// close frame, ours or the client's, or 1006 when none was queued: the
// client vanished, or a write failed or timed out.
//
// # Goroutines and callbacks
//
// Handler.OnOpen runs on the connection's handshake goroutine, once the
// upgrade is done. Handler.OnMessage runs for every complete message in the
// order the client sent them, then Handler.OnClose exactly once, after the
// connection left the registry. A callback for one connection never runs
// concurrently with another callback for the same connection; callbacks for
// different connections run concurrently.
//
// On the epoll engine OnMessage and OnClose run on the connection's poller,
// which serves thousands of connections: callbacks must not block. Hand
// long work (a database call, a request to another service) to a goroutine
// of your own and Send the answer from there. Message.Data is only valid
// until OnMessage returns: it may point into the poller's read buffer.
//
// Writes never wait for the network: [Conn.Send] and [Server.Broadcast]
// append the encoded frame to the connection's queue and write what the
// socket takes at once, without blocking (one writev for several queued
// frames); the poller writes the rest when the socket has room. A broadcast
// encodes its frame once and spreads the connections over a few goroutines
// when there are many.
//
// # Limits and close codes
//
// Every queue is bounded (Options.SendBuffer bounds the backlog behind the
// frame being written): a client that stops reading and falls further
// behind is closed with 1008 (policy violation, reason "send buffer
// full") and never delays the others; one that takes no byte for
// Options.WriteTimeout is cut. One frame of any size is taken onto an
// empty backlog, so a client that reads gets any one message. A
// connection with more than half its send buffer queued is not read until
// it is down to a quarter, and pongs fold (RFC 6455 §5.5.3), so a client
// cannot make the server queue without bound by sending and not reading. A message over Options.MaxMessage closes
// with 1009, a protocol violation (RFC 6455 §5: unmasked frame, reserved
// bits or opcodes, bad fragmentation, bad control frame) with 1002, invalid
// UTF-8 in a text message with 1007 (§8.1) at the first byte that cannot
// be part of valid UTF-8, across fragments and partial frames. A compressed
// message (Options.Deflate) that inflates past Options.MaxMessage closes
// with 1009 as soon as it does. A server stop closes with 1001,
// a worker replaced by a reload with 1012 ([StatusServiceRestart]).
package gateway
