// Package hub gives a worker GatewayWorker's addressing over NATS: every
// connection has a cluster-wide id naming its owner, and a message can go to
// one connection, a room, a user (all connections bound to a user id) or
// everyone, from any worker on any host.
//
// A *Hub is what an application gets as its app.Worker (worker.go): the
// calls that take a connection take the application's view of it, a Conn,
// which the worker makes for each of its connections. Connection ids and
// the bus's wire formats are pkg/bus's (bus.ConnID, bus.Message,
// bus.Command).
//
// # Routing
//
// A worker subscribes to a room's subject only while it holds a member of
// the room, and to a user's subject only while it holds a connection bound to
// that user; the subscription is dropped when the last one leaves. A room
// message therefore crosses the network only to workers with members, unlike
// GatewayWorker, which sends every group message to every gateway process.
// Messages to one connection go to its owner's subject
// (<prefix>.conn.<node>.<pid>). Everything goes through NATS, even between
// connections of one worker, so each connection gets messages from one
// sender in the order they were sent.
//
// # Presence
//
// Online checks, counts and member lists are answered by the workers
// themselves when asked: a query reaches every live worker (known from
// heartbeats, bus.HeartbeatInterval) and the answers are added up. They are
// as fresh as the query: a join completed before the query is counted. A
// worker that dies stops answering at once; until its heartbeat expires
// (bus.PeerTTL) queries wait up to Options.QueryTimeout for it.
//
// # Concurrency
//
// A Hub is safe for concurrent use. Join, Leave, Bind and Unbind of a
// connection are meant to be called from its own callbacks; they return once
// the worker's subscription, if a new one was needed, is registered, so a
// message published after they return reaches the connection. The hub's
// lock is never held across a network round trip: a new subscription is
// made on a goroutine of the hub's, and only the callers that need that
// room or user wait for it (see group). Backend commands do not wait.
//
// # Bounds
//
// A connection is in at most Options.MaxRooms rooms; a room or user name is
// 1 to MaxName bytes. Presence answers of any size travel in pieces under
// NATS's max_payload, and RoomUsers pages a room's users so that a page
// costs the same however large the room.
package hub
