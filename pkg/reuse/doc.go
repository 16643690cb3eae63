// Package reuse opens SO_REUSEPORT listening sockets and moves them between
// processes.
//
// Every wsfleet worker accepts on its own listening socket bound to the same
// address; the kernel spreads new connections over them (SO_REUSEPORT). The
// master opens one socket per worker slot with [Listen] and hands each to its
// worker as an inherited file ([File], then [FromFile] in the child), so that a
// worker that restarts or is replaced by a reload inherits the same socket and
// the connections already waiting in its accept queue are not reset.
//
// The package imports nothing of wsfleet's and holds no state.
package reuse
