package bus

import (
	"fmt"
	"slices"
)

// RouteStats describes the embedded server's routes to the other hosts'
// servers.
type RouteStats struct {
	// Connections counts route connections (NATS pools several per peer).
	Connections int `json:"connections"`
	// Peers are the servers at the other end, by name (a host's -node),
	// each once, sorted.
	Peers []string `json:"peers"`
}

// Routes reports the routes connected now.
func (e *Embedded) Routes() (RouteStats, error) {
	rz, err := e.ns.Routez(nil)
	if err != nil {
		return RouteStats{}, fmt.Errorf("bus: routes: %w", err)
	}
	st := RouteStats{Connections: len(rz.Routes), Peers: []string{}}
	for _, r := range rz.Routes {
		name := r.RemoteName
		if name == "" {
			name = r.RemoteID
		}
		if !slices.Contains(st.Peers, name) {
			st.Peers = append(st.Peers, name)
		}
	}
	slices.Sort(st.Peers)
	return st, nil
}
