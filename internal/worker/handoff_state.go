package worker

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
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
	// Cuts are where each of its streams stood at its snapshot (version
	// 2): the receiver delivers what came after, once (pkg/hub/stream.go).
	Cuts hub.Cuts `json:"cuts,omitempty"`
}

// handedVersion is handedConn's version; a receiver refuses any other (a
// version 1 sender did not say where its messages stood: its connections
// drain with 1012).
const handedVersion = 2

var errHandedState = errors.New("worker: bad hand-off state")

// handedOf is c's worker state for a hand-off, without its Cuts yet.
func (w *Worker) handedOf(c *gateway.Conn, hf app.Handoffer) (handedConn, error) {
	ac, _, _, ok := w.handler.parts(c)
	if !ok {
		return handedConn{}, errHandedState
	}
	b, err := hf.EncodeConn(ac)
	if err != nil {
		return handedConn{}, fmt.Errorf("worker: app state: %w", err)
	}
	return handedConn{V: handedVersion, User: w.hub.ConnUser(c), Rooms: w.hub.ConnRooms(c), App: b}, nil
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
	return hc, checkCuts(hc)
}

// checkCuts refuses Cuts that name a stream the connection does not get
// messages on, or hold more than a sender keeps.
func checkCuts(hc handedConn) error {
	if len(hc.Cuts) > len(hc.Rooms)+3 {
		return fmt.Errorf("%w: %d cuts", errHandedState, len(hc.Cuts))
	}
	names := map[string]bool{hub.StreamAll: true, hub.StreamConn: true}
	if hc.User != "" {
		names[hub.UserStream(hc.User)] = true
	}
	for _, r := range hc.Rooms {
		names[hub.RoomStream(r)] = true
	}
	for name, cut := range hc.Cuts {
		if !names[name] || len(cut) > hub.MaxCutPublishers+1 {
			return fmt.Errorf("%w: cut %q of %d", errHandedState, name, len(cut))
		}
		for pub := range cut {
			if pub == "" || len(pub) > bus.MaxPublisher {
				return fmt.Errorf("%w: cut %q: publisher of %d bytes", errHandedState, name, len(pub))
			}
		}
	}
	return nil
}

// attachHanded makes c, imported from an old worker, this worker's: its
// mailbox and application view, its user and rooms (each subscription in
// place before it returns), its owner's subject (connection ids keep the
// old worker's pid), and the application's state.
func (w *Worker) attachHanded(c *gateway.Conn, hc handedConn, hf app.Handoffer) (err error) {
	ac := w.handler.wrap(c, nil) // c.Value holds it
	defer func() {
		if err != nil {
			w.hub.Remove(c)
		}
	}()
	if err := w.hub.AdoptMember(c, hc.User, hc.Rooms, hc.Cuts); err != nil {
		return fmt.Errorf("worker: hand-off: %w", err)
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
