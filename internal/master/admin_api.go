package master

import (
	"fmt"
	"strings"

	"github.com/wsfleet/wsfleet/internal/admin"
	"github.com/wsfleet/wsfleet/internal/httpapi"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// mountAPI mounts the HTTP API (issue 13, internal/httpapi) on /api/ when
// -api-key-file is set. It sends through the master's bus connection, on
// the subjects a NATS backend uses, so the API of any host reaches the
// whole cluster; its presence questions go to every worker of the cluster
// (hub.Querier). The key is read now; Reload reads it again.
func (m *Master) mountAPI(s *admin.Server) error {
	if m.opts.APIKeyFile == "" {
		return nil
	}
	key, err := readAPIKey(m.opts.APIKeyFile)
	if err != nil {
		return err
	}
	q, err := hub.NewQuerier(m.bus, 0)
	if err != nil {
		return fmt.Errorf("master: HTTP API: %w", err)
	}
	opts := httpapi.Options{Key: key, Bus: m.bus, Presence: q, Logger: m.log}
	if u := m.newAPIUsers(); u != nil {
		opts.Users = u
	}
	h, err := httpapi.New(opts)
	if err != nil {
		q.Stop()
		return fmt.Errorf("master: HTTP API: %w", err)
	}
	m.api, m.apiQuerier = h, q
	s.Handle("/api/", h)
	return nil
}

// readAPIKey reads -api-key-file: trimmed, not empty, readable by its owner
// only.
func readAPIKey(path string) (string, error) {
	key, err := bus.ReadSecretFile(path)
	if err != nil {
		return "", fmt.Errorf("master: -api-key-file: %s", strings.TrimPrefix(err.Error(), "bus: "))
	}
	return key, nil
}

// reloadAPIKey reads -api-key-file again (on reload); when it cannot, the
// key in use stays and the error is logged.
func (m *Master) reloadAPIKey() {
	if m.api == nil {
		return
	}
	key, err := readAPIKey(m.opts.APIKeyFile)
	if err != nil {
		m.log.Error("HTTP API key not reloaded; the previous key stays", "err", err)
		return
	}
	m.api.SetKey(key)
	m.log.Info("HTTP API key reloaded")
}

// stopAPI stops the API's presence tracking.
func (m *Master) stopAPI() {
	if m.apiQuerier != nil {
		m.apiQuerier.Stop()
	}
}
