// Package master is wsfleet's supervisor: it holds the pid file, runs the
// embedded NATS server (or connects to an external one), opens one
// SO_REUSEPORT socket per worker slot, starts the workers and restarts those
// that die, runs the application's cluster-wide timers, and answers the
// command line on its control socket.
//
// The cluster's state changes (start, stop, reload) are serialised by one
// lock; status and connection queries run beside them. Each worker slot has
// a watcher goroutine that restarts its worker when it dies, with a back-off
// when it keeps dying.
package master
