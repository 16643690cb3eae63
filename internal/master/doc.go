// Package master is wsfleet's supervisor: it holds the pid file, runs the
// embedded NATS server (or connects to an external one), opens one
// SO_REUSEPORT socket per worker slot, starts the workers and restarts those
// that die or stop answering, runs the application's cluster-wide timers,
// and answers the command line on its control socket.
//
// The pid file, control socket, saved start arguments and a daemon's log
// live in a private folder (PrivateDir: ours, 0700, never through a link);
// restart replays the arguments saved there (LoadStart). The embedded NATS
// admits the master and its workers with a password made at each start,
// which a worker receives on an inherited pipe (busauth.go).
//
// The worker table (table.go) has one owner goroutine, as tableflip's
// Upgrader.run: reload, stop, status snapshots and the workers' events
// (ready, exited, not answering, a back-off over) come to it over a
// channel, and whatever blocks runs in goroutines that report back. Starting
// a worker is behind the starter and process interfaces (process.go), so
// the supervision is unit-tested with fake workers in milliseconds; the real
// ones are exec'd (child.go).
package master
