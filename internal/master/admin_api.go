package master

import "github.com/wsfleet/wsfleet/internal/admin"

// mountAPI mounts the HTTP API (issue 13) when -api-key-file is set.
func (m *Master) mountAPI(*admin.Server) error { return nil }
