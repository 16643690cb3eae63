// Package ctl is the control protocol between wsfleet's processes: the
// command line and the master (over the master's unix socket), and the master
// and each worker (over a socketpair the worker inherits).
//
// It is JSON, one object a line, in both directions. A request names an
// operation and carries an id; the answer carries the same id and a result or
// an error. The serving side may also send events (an object with "event"
// set and no id), such as a worker's EventReady. Requests are served
// concurrently, so a slow operation (a graceful stop) does not hold up a
// status query.
//
// The operations' and events' names, and the master's requests to its
// workers and their answers, are defined here (wire.go), once for both
// sides: the master knows a worker only through them, not its packages.
package ctl
