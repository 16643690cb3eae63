// Package app is wsfleet's application interface and its built-in
// applications.
//
// An application has two sides. Its connection callbacks ([App]) run in every
// worker, for that worker's own connections: OnOpen once, OnMessage for every
// message in the order the client sent them, OnClose once; callbacks for one
// connection never overlap while callbacks for different connections run
// concurrently. OnMessage and OnClose run on a goroutine of the
// connection's own while it has work, so they may block; an application
// whose callbacks never block implements [Inline] and is called straight
// from the connection engine's poller instead. OnOpen reads the client's
// upgrade request (path, query, headers, cookies, address) from
// [Conn].Handshake. Optionally, [Admitter]
// decides from the upgrade request (its [Handshake]) who may connect, and
// refuses the others with an HTTP status ([Refusal]) before the upgrade;
// [WorkerStarter] gives it the worker's services when a worker starts, and
// [ClusterStarter] runs once for the whole cluster, in the master, for work
// that must happen once per cluster rather than once per worker (the push
// app's timer).
//
// Built-in applications, chosen with the -app flag:
//
//	echo   answers every message with "hello " + the message (binary stays binary)
//	push   answers every message with 服務器已經收到了你的消息 and logs it;
//	       every Config.PushInterval every connection of the cluster gets 你好!
//	chat   chat rooms over a JSON protocol (docs/protocol.md)
//	none   nothing: a backend does the work, over NATS (-events, docs/backend.md) or HTTP (-webhook, docs/webhook.md)
package app
