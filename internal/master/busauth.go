package master

import (
	"fmt"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// embeddedOptions are the embedded NATS server's options. Its clients must
// log in (issue 11: the bus was open to anyone who reached the port): the
// master and its workers as config.InternalUser with a password made now, at
// random, and kept in memory only (m.opts.NATSAuth), and backends as
// BackendUser when the operator gave it a password.
func (m *Master) embeddedOptions() (bus.EmbeddedOptions, error) {
	secret, err := bus.NewSecret()
	if err != nil {
		return bus.EmbeddedOptions{}, fmt.Errorf("master: %w", err)
	}
	m.opts.NATSAuth = bus.Auth{User: config.InternalUser, Password: secret}
	users := []bus.User{{Name: config.InternalUser, Password: secret}}
	var deny map[string][]string
	if m.opts.BackendPassword != "" {
		users = append(users, bus.User{Name: m.opts.Bus.BackendUser, Password: m.opts.BackendPassword})
		// A backend must not answer the masters' query in a master's name
		// (`master status -cluster`, clusterstatus.go), nor read it.
		deny = map[string][]string{m.opts.Bus.BackendUser: {bus.MastersSubjects(m.opts.ClusterName)}}
	}
	return bus.EmbeddedOptions{
		Listen: m.opts.NATSListen, Name: m.opts.Node,
		ClusterListen: m.opts.ClusterListen, Routes: m.opts.Routes, ClusterName: m.opts.ClusterName,
		Users: users, Deny: deny, Route: m.opts.RouteAuth,
	}, nil
}
