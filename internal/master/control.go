package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// StopArgs is the argument of the command line's ctl.OpStop and ctl.OpReload.
type StopArgs struct {
	Graceful bool          `json:"graceful"`
	Grace    time.Duration `json:"grace"` // 0: the master's -grace
}

// Info is the answer to ctl.OpInfo. It carries no start arguments: restart
// reads those from the master's private directory (see SavedStart).
type Info struct {
	PID int `json:"pid"`
}

// startControl listens on the control socket beside the pid file. Holding
// the pid file's lock, any socket file there is stale.
func (m *Master) startControl() error {
	path := SocketPath(m.opts.PIDFile)
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("master: control socket: %w", err)
	}
	os.Chmod(path, 0o600)
	m.ctlLn = ln
	m.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Not tracked by m.wg: a "stop" request ends in teardown,
			// which waits for m.wg. Each connection ends when its client
			// hangs up or the process exits.
			go m.serveControl(c)
		}
	})
	return nil
}

func (m *Master) serveControl(c net.Conn) {
	conn := ctl.NewConn(c)
	defer conn.Close()
	if err := conn.Serve(context.Background(), m.handleControl); err != nil {
		m.log.Debug("control connection", "err", err)
	}
}

func (m *Master) handleControl(ctx context.Context, op string, args json.RawMessage) (any, error) {
	switch op {
	case ctl.OpStatus:
		return m.Status(ctx), nil
	case ctl.OpConnections:
		cs := m.Connections(ctx)
		return &ctl.Stream{Items: ctl.Items(cs.Connections), Result: ConnectionsResult{Unanswered: cs.Unanswered}}, nil
	case ctl.OpClusterStatus:
		return m.ClusterStatus(ctx)
	case ctl.OpInfo:
		return Info{PID: os.Getpid()}, nil
	case ctl.OpStop:
		var a StopArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("master: stop: %w", err)
		}
		if a.Grace == 0 {
			a.Grace = m.opts.Grace
		}
		// Answer now; the command line waits for this process to exit.
		go m.Stop(a.Graceful, a.Grace)
		return "stopping", nil
	case ctl.OpReload:
		var a StopArgs
		if err := json.Unmarshal(args, &a); err != nil {
			return nil, fmt.Errorf("master: reload: %w", err)
		}
		if a.Grace == 0 {
			a.Grace = m.opts.Grace
		}
		if err := m.Reload(ctx, a.Graceful, a.Grace); err != nil {
			return nil, err
		}
		return "reloaded", nil
	case ctl.OpReopenLogs:
		return m.reopenLogs()
	}
	return nil, errors.New("master: unknown request " + op)
}
