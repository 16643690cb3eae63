package worker

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// handedConn is the worker's own state of a connection in a hand-off, the
// App part of gateway.HandoffState: its user and rooms (the hub's) and the
// application's bytes (app.Handoffer). JSON, versioned; the gateway bounds
// its size (gateway.MaxHandoffApp) and the receiver checks every name as a
// join would.
type handedConn struct {
	V     int      `json:"v"`
	User  string   `json:"user,omitempty"`
	Rooms []string `json:"rooms,omitempty"`
	App   []byte   `json:"app,omitempty"`
}

// handedVersion is handedConn's version; a receiver refuses any other.
const handedVersion = 1

var errHandedState = errors.New("worker: bad hand-off state")

// encodeHanded is c's worker state for a hand-off.
func (w *Worker) encodeHanded(c *gateway.Conn, hf app.Handoffer) ([]byte, error) {
	ac, _, _, ok := parts(c.Value)
	if !ok {
		return nil, errHandedState
	}
	b, err := hf.EncodeConn(ac)
	if err != nil {
		return nil, fmt.Errorf("worker: app state: %w", err)
	}
	return json.Marshal(handedConn{V: handedVersion, User: w.hub.ConnUser(c), Rooms: w.hub.ConnRooms(c), App: b})
}

// decodeHanded checks a handed connection's worker state.
func decodeHanded(b []byte, maxRooms int) (handedConn, error) {
	var hc handedConn
	if err := json.Unmarshal(b, &hc); err != nil {
		return hc, fmt.Errorf("%w: %w", errHandedState, err)
	}
	switch {
	case hc.V != handedVersion:
		return hc, fmt.Errorf("%w: version %d", errHandedState, hc.V)
	case len(hc.Rooms) > maxRooms:
		return hc, fmt.Errorf("%w: %d rooms", errHandedState, len(hc.Rooms))
	}
	return hc, nil
}

// attachHanded makes c, imported from an old worker, this worker's: its
// mailbox and application view, its user and rooms (each subscription in
// place before it returns), its owner's subject (connection ids keep the
// old worker's pid), and the application's state.
func (w *Worker) attachHanded(c *gateway.Conn, hc handedConn, hf app.Handoffer) (err error) {
	ac := w.handler.wrap(c, nil)
	c.Value = ac
	defer func() {
		if err != nil {
			w.hub.Remove(c)
		}
	}()
	if err := w.hub.AdoptConn(c.ID()); err != nil {
		return err
	}
	if hc.User != "" {
		if err := w.hub.Bind(c, hc.User); err != nil {
			return fmt.Errorf("worker: hand-off: bind: %w", err)
		}
	}
	for _, room := range hc.Rooms {
		if err := w.hub.Join(c, room); err != nil {
			return fmt.Errorf("worker: hand-off: join: %w", err)
		}
	}
	if err := hf.DecodeConn(ac, hc.App); err != nil {
		return fmt.Errorf("worker: hand-off: app state: %w", err)
	}
	return nil
}

// handoffBlocker says why this worker's connections may not move: state a
// hand-off does not carry yet ("" when they may).
func (w *Worker) handoffBlocker() string {
	switch {
	case w.opts.Certs != nil:
		return "TLS connections (-tls-cert) cannot move"
	case w.hook != nil:
		return "-webhook's per-connection queues do not move"
	case w.tokens != nil && w.tokens.expireClose:
		return "-jwt-expire-close's timers do not move"
	}
	if _, ok := w.opts.App.(app.Handoffer); !ok {
		return "the application does not implement app.Handoffer"
	}
	return ""
}
