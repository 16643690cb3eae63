package master

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/wsfleet/wsfleet/internal/admin"
	"github.com/wsfleet/wsfleet/internal/adminui"
	"github.com/wsfleet/wsfleet/internal/httpapi"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// The admin page (issue 17, internal/adminui) on /admin/, with
// -admin-password-file. Its figures come from the masters' query (as
// `status -cluster`, asking for the workers' rows too); its actions go
// through the HTTP API's code; its search asks the masters which of them
// holds a connection.

// queryWithWorkers is the masters' query whose answers carry WorkerRows.
const queryWithWorkers = "status+workers"

// queryConn is the prefix of the masters' query "where is connection
// <id>": the master of the id's node answers with an adminui.Found, the
// others with {}.
const queryConn = "conn "

// maxSearchConns bounds how many connections of one user a search shows.
const maxSearchConns = 16

// topRooms is how many of the largest rooms the page shows.
const topRooms = 20

// maxUIAnswer bounds one master's answer with its workers' rows.
const maxUIAnswer = 1 << 20

// mountAdminUI mounts the admin page when -admin-password-file is set.
func (m *Master) mountAdminUI(s *admin.Server) error {
	if m.opts.AdminPasswordFile == "" {
		return nil
	}
	pw, err := readAdminPassword(m.opts.AdminPasswordFile)
	if err != nil {
		return err
	}
	q, api := m.apiQuerier, m.api
	if api == nil {
		if q, err = hub.NewQuerier(m.bus, 0); err != nil {
			return fmt.Errorf("master: admin page: %w", err)
		}
		m.uiQuerier = q
		// The page's own API handler: its key is random and never used, the
		// page calls it with ServeTrusted.
		if api, err = httpapi.New(httpapi.Options{Key: "unused-" + mustSecret(), Bus: m.bus, Presence: q, Logger: m.log}); err != nil {
			return fmt.Errorf("master: admin page: %w", err)
		}
	}
	ui, err := adminui.New(adminui.Options{
		Password: pw, Logger: m.log,
		Source: m.adminHosts,
		Rooms: func(ctx context.Context) ([]adminui.Room, error) {
			top, err := q.TopRooms(ctx, topRooms)
			out := make([]adminui.Room, len(top))
			for i, r := range top {
				out[i] = adminui.Room{Room: r.Room, Count: r.Count}
			}
			return out, err
		},
		API:    http.HandlerFunc(api.ServeTrusted),
		Reload: func(ctx context.Context) error { return m.Reload(ctx, true, m.opts.Grace) },
		Search: func(ctx context.Context, s string) ([]adminui.Found, error) { return m.adminSearch(ctx, q, s) },
	})
	if err != nil {
		return fmt.Errorf("master: admin page: %w", err)
	}
	ui.Start()
	m.ui = ui
	s.Handle("/admin/", ui)
	return nil
}

func mustSecret() string {
	s, err := bus.NewSecret()
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return s
}

// readAdminPassword reads -admin-password-file: trimmed, not empty,
// readable by its owner only.
func readAdminPassword(path string) (string, error) {
	pw, err := bus.ReadSecretFile(path)
	if err != nil {
		return "", fmt.Errorf("master: -admin-password-file: %s", strings.TrimPrefix(err.Error(), "bus: "))
	}
	return pw, nil
}

// reloadAdminPassword reads -admin-password-file again (on reload).
func (m *Master) reloadAdminPassword() {
	if m.ui == nil {
		return
	}
	pw, err := readAdminPassword(m.opts.AdminPasswordFile)
	if err != nil {
		m.log.Error("admin password not reloaded; the previous one stays", "err", err)
		return
	}
	m.ui.SetPassword(pw)
}

// stopAdminUI stops the page's collector and live sockets.
func (m *Master) stopAdminUI() {
	if m.ui != nil {
		m.ui.Close()
	}
	if m.uiQuerier != nil {
		m.uiQuerier.Stop()
	}
}

// adminHosts asks every master for its status with its workers' rows.
func (m *Master) adminHosts(ctx context.Context) ([]adminui.Host, error) {
	cs, err := m.gatherHosts(ctx, queryWithWorkers, maxUIAnswer)
	if err != nil {
		return nil, err
	}
	out := make([]adminui.Host, 0, len(cs.Hosts))
	for _, h := range cs.Hosts {
		ah := adminui.Host{
			Node: h.Node, PID: h.PID, Version: h.Version, UptimeSeconds: h.UptimeSeconds, Leader: h.Leader,
			Workers: h.Workers, Count: h.Count, Connections: h.Connections, WorkerRows: []adminui.Worker{},
			Closed: h.Closed, HandshakeFailures: h.HandshakeFailures,
		}
		for _, w := range h.WorkerRows {
			ah.WorkerRows = append(ah.WorkerRows, adminui.Worker{
				PID: w.PID, State: pageState(w.State), Connections: w.Connections, MessagesIn: w.MessagesIn,
				MessagesOut: w.MessagesOut, RSSBytes: w.RSSBytes, Restarts: w.Restarts,
			})
		}
		out = append(out, ah)
	}
	return out, nil
}

// adminSearch finds q, a connection id or a user: where each connection
// is (from its id), and, from the master holding it, since when and from
// which address.
func (m *Master) adminSearch(ctx context.Context, pq *hub.Querier, q string) ([]adminui.Found, error) {
	ids, byUser := []string{q}, false
	if _, err := bus.ParseConnID(q); err != nil {
		byUser = true
		if len(q) > hub.MaxName {
			return nil, fmt.Errorf("%q is neither a connection id nor a user", q)
		}
		if ids, err = pq.UserConns(ctx, q); err != nil {
			return nil, fmt.Errorf("user %s: %w", q, err)
		}
		ids = ids[:min(len(ids), maxSearchConns)]
	}
	var out []adminui.Found
	for _, id := range ids {
		cid, err := bus.ParseConnID(id)
		if err != nil {
			continue
		}
		f := adminui.Found{Conn: id, Node: cid.Worker.Node, PID: cid.Worker.PID}
		answers, err := m.bus.GatherMasters(ctx, []byte(queryConn+id), len(m.lead.peers.Live()), clusterWindow)
		if err != nil {
			return nil, fmt.Errorf("master: search: %w", err)
		}
		found := false
		for _, a := range answers {
			var got adminui.Found
			if len(a) <= maxHostAnswer && json.Unmarshal(a, &got) == nil && got.Conn == id {
				f, found = got, true
				break
			}
		}
		if rooms, held, err := pq.ConnRooms(ctx, id); err == nil && held {
			f.Rooms = rooms
		}
		if found || byUser { // a user's connections are known to presence; an id nobody holds is not connected
			out = append(out, f)
		}
	}
	return out, nil
}

// answerAdminQuery answers the masters' queries of the admin page that are
// not a status: "conn <id>". ok is false for any other query.
func (m *Master) answerAdminQuery(ctx context.Context, q []byte) (b []byte, ok bool) {
	id, isConn := strings.CutPrefix(string(q), queryConn)
	if !isConn {
		return nil, false
	}
	cid, err := bus.ParseConnID(id)
	if err != nil || cid.Worker.Node != m.opts.Node {
		return []byte("{}"), true
	}
	for _, c := range m.Connections(ctx).Connections {
		if c.ID == id {
			b, _ := json.Marshal(adminui.Found{
				Conn: id, Node: m.opts.Node, PID: c.WorkerPID, User: c.User, Remote: c.Remote,
				Since: c.Created.UTC().Format("2006-01-02T15:04:05Z07:00"),
			})
			return b, true
		}
	}
	return []byte("{}"), true
}

// pageState names a worker's state as an operator reads it on the admin
// page: ready (accepting), draining (stopping after a reload or a stop:
// it accepts no more), busy (it did not answer the master in time) or
// restarting (starting, or waiting out its back-off after it died).
func pageState(s string) string {
	switch s {
	case stateRunning:
		return "ready"
	case stateStopping:
		return "draining"
	case stateBusy:
		return "busy"
	case stateStarting, stateDown:
		return "restarting"
	}
	return s
}
