// Package master is wsfleet's supervisor: it holds the pid file, runs the
// embedded NATS server (or connects to an external one), opens one
// SO_REUSEPORT socket per worker slot, starts the workers and restarts those
// that die or stop answering, runs the application's cluster-wide timers,
// and answers the command line on its control socket.
//
// The worker table (table.go) has one owner goroutine, as tableflip's
// Upgrader.run: reload, stop, status snapshots and the workers' events
// (ready, exited, not answering, a back-off over) come to it over a
// channel, and whatever blocks runs in goroutines that report back. Starting
// a worker is behind the starter and process interfaces (process.go), so
// the supervision is unit-tested with fake workers in milliseconds; the real
// ones are exec'd (child.go).
package master
