// Package bus is wsfleet's message bus: the embedded NATS server, the client
// connection every process keeps to it, and the subject scheme.
//
// Subjects are built only inside this package, from a cluster prefix
// (Options.Prefix, "wsfleet" by default) and typed names, so that no caller
// can publish to a subject of the wrong shape:
//
//	<prefix>.all     a message for every connection of the cluster
//
// A [Message] travels as the NATS payload, with its kind in the Wsfleet-Op
// header ("binary"; absent means text), so a backend in any language can
// publish with a plain `nats pub wsfleet.all hello`.
//
// Delivery is core NATS: at most once, in publish order for each publisher,
// with no persistence. A subscriber that is disconnected misses what was
// published meanwhile; the client reconnects on its own, forever, and
// re-subscribes.
//
// Credentials (issue 11): [EmbeddedOptions].Users are the embedded server's
// accounts, and with ClusterListen its routes require [RouteAuth], a shared
// password and TLS verified both ways; a client presents [Auth] (a user and
// password, a creds file, a client certificate). [NewSecret] makes a
// password; [ReadSecretFile] reads one from a file only its owner may read.
//
// A [Client] is safe for concurrent use. Handlers passed to Subscribe methods
// run on one goroutine per subscription, in order, and must not block for
// long.
package bus
