// Package gateway is wsfleet's WebSocket connection engine: it accepts TCP
// connections, upgrades them with gobwas/ws's zero-copy upgrader (no net/http
// on the WebSocket path), reads and checks frames, keeps each connection's
// bounded write queue, answers pings, runs the close handshake and keeps the
// local registry of connections.
//
// # Goroutines and callbacks
//
// Each connection has one reader goroutine, its owner: it runs the upgrade,
// then Handler.OnOpen, then Handler.OnMessage for every complete message in
// the order the client sent them, then Handler.OnClose exactly once. A
// callback for one connection never runs concurrently with another callback
// for the same connection; callbacks for different connections run
// concurrently.
//
// Writes never happen on the caller's goroutine: [Conn.Send] and
// [Server.Broadcast] append the encoded frame to the connection's queue and
// return. A writer goroutine exists only while a connection has queued output;
// it writes everything queued with one writev and exits when the queue is
// empty, so an idle connection holds no writer.
//
// # Limits and close codes
//
// Every queue is bounded (Options.SendBuffer): a client that stops reading
// and falls further behind is closed with 1008 (policy violation, reason
// "send buffer full") and never delays the others. A message over
// Options.MaxMessage closes with 1009, a protocol violation (RFC 6455 §5:
// unmasked frame, reserved bits or opcodes, bad fragmentation, bad control
// frame) with 1002, invalid UTF-8 in a text message with 1007 (§8.1). A
// server stop closes with 1001, a worker replaced by a reload with 1012
// ([StatusServiceRestart]).
package gateway
