package master

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wsfleet/wsfleet/internal/admin"
)

// startAdmin starts the admin listener (-admin-listen), when asked for,
// with everything mounted on it: the health checks here, the metrics
// (mountMetrics) and the HTTP API (mountAPI).
func (m *Master) startAdmin() error {
	if m.opts.AdminListen == "" {
		return nil
	}
	s := admin.New(admin.Options{Addr: m.opts.AdminListen, Logger: m.log})
	s.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	m.mountHealth(s)
	m.mountMetrics(s)
	if err := m.mountAPI(s); err != nil {
		return err
	}
	if err := m.mountAdminUI(s); err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("master: -admin-listen: %w", err)
	}
	m.admin = s
	m.log.Info("admin listener", "addr", s.Addr())
	return nil
}

// stopAdmin stops the admin listener, letting requests in flight finish
// for a moment.
func (m *Master) stopAdmin() {
	if m.admin == nil {
		return
	}
	m.stopAdminUI() // its live sockets are hijacked: Shutdown would not end them
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m.admin.Shutdown(ctx)
}

// AdminAddr is the admin listener's address, "" without one.
func (m *Master) AdminAddr() string {
	if m.admin == nil {
		return ""
	}
	return m.admin.Addr()
}
