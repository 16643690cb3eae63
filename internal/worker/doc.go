// Package worker is the runtime of one wsfleet worker process: it joins the
// connection engine (pkg/gateway), the bus (pkg/bus) and the application
// (pkg/app), reports "ready" to the master over its control connection, and
// answers the master's status, connections and stop requests.
//
// With -events it publishes each connection's events on NATS (events.go);
// with -webhook it POSTs them to a backend (hook.go, internal/webhook) and
// does the commands in the answers: the open on the connection's handshake
// goroutine, before the connection reads a message, and the messages and
// close through a queue per connection, in order.
//
// A worker lives as long as its master: when the control connection ends
// (the master died), it closes every connection with 1001 and exits, so no
// orphan keeps serving the port.
package worker
