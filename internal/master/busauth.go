package master

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// InternalUser is the embedded NATS account of the master and its workers.
const InternalUser = "wsfleet"

// embeddedOptions are the embedded NATS server's options. Its clients must
// log in (issue 11: the bus was open to anyone who reached the port): the
// master and its workers as InternalUser with a password made now, at
// random, and kept in memory only (m.opts.NATSAuth), and backends as
// BackendUser when the operator gave it a password.
func (m *Master) embeddedOptions() (bus.EmbeddedOptions, error) {
	secret, err := bus.NewSecret()
	if err != nil {
		return bus.EmbeddedOptions{}, fmt.Errorf("master: %w", err)
	}
	m.opts.NATSAuth = bus.Auth{User: InternalUser, Password: secret}
	users := []bus.User{{Name: InternalUser, Password: secret}}
	if m.opts.BackendPassword != "" {
		users = append(users, bus.User{Name: m.opts.BackendUser, Password: m.opts.BackendPassword})
	}
	return bus.EmbeddedOptions{
		Listen: m.opts.NATSListen, Name: m.opts.Node,
		ClusterListen: m.opts.ClusterListen, Routes: m.opts.Routes, ClusterName: m.opts.ClusterName,
		Users: users, Route: m.opts.RouteAuth,
	}, nil
}

// authPipe returns the read end of a pipe that holds the bus credentials
// as JSON (bus.Auth), for a worker to inherit (cmd/worker -nats-auth-fd).
// Not an argument: any local user can read another's argv in /proc. Not
// the environment either: /proc/<pid>/environ is closed to other users,
// but it stays readable for the worker's whole life and every process the
// application starts inherits it; the pipe is read once, then closed.
// The credentials are far smaller than a pipe's buffer (64 KiB), so the
// write never waits for the reader.
func (m *Master) authPipe() (*os.File, error) {
	b, err := json.Marshal(m.opts.NATSAuth)
	if err != nil {
		return nil, fmt.Errorf("master: bus credentials: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("master: bus credentials pipe: %w", err)
	}
	_, err = w.Write(b)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("master: bus credentials pipe: %w", err)
	}
	return r, nil
}
