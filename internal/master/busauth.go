package master

import (
	"fmt"
	"os"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/config"
	"github.com/wsfleet/wsfleet/pkg/history"
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
		// Nor write or read the rooms' history (issue 14), the JetStream
		// API included: a backend joins a connection since a position
		// through Wsfleet-Join, never by reading the stream itself.
		deny = map[string][]string{m.opts.Bus.BackendUser: {bus.MastersSubjects(m.opts.ClusterName),
			bus.HistorySubjects(m.opts.ClusterName), "$JS.>"}}
	}
	storeDir := ""
	if rules, _ := history.ParseRules(m.opts.History); len(rules) > 0 { // checked by config.Check
		// The master's private folder: the history is the users' chat.
		if err := os.MkdirAll(m.opts.DataDir, 0o700); err != nil {
			return bus.EmbeddedOptions{}, fmt.Errorf("master: -data-dir: %w", err)
		}
		storeDir = m.opts.DataDir
	}
	return bus.EmbeddedOptions{
		Listen: m.opts.NATSListen, Name: m.opts.Node,
		ClusterListen: m.opts.ClusterListen, Routes: m.opts.Routes, ClusterName: m.opts.ClusterName,
		Users: users, Deny: deny, Route: m.opts.RouteAuth,
		StoreDir: storeDir,
	}, nil
}
