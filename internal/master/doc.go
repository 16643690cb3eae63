// Package master is wsfleet's supervisor: it holds the pid file, runs the
// embedded NATS server (or connects to an external one), opens one
// SO_REUSEPORT socket per worker slot, starts the workers and restarts those
// that die, runs the application's cluster-wide timers, and answers the
// command line on its control socket.
//
// The pid file, control socket, saved start arguments and a daemon's log
// live in a private folder (PrivateDir: ours, 0700, never through a link);
// restart replays the arguments saved there (LoadStart). The embedded NATS
// admits the master and its workers with a password made at each start,
// which a worker receives on an inherited pipe (busauth.go).
//
// The cluster's state changes (start, stop, reload) are serialised by one
// lock; status and connection queries run beside them. Each worker slot has
// a watcher goroutine that restarts its worker when it dies, with a back-off
// when it keeps dying.
package master
