package hub

import (
	"log/slog"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
)

// The Hub is what an application gets as its app.Worker: the sends
// (send.go), the presence queries (presence.go), and these, which take one
// of this worker's connections as the application sees it (a Conn, or a
// type embedding one). Any other app.Conn gets ErrNotLocal.
var _ app.Worker = (*Hub)(nil)

// JoinRoom adds c to room, as Join.
func (h *Hub) JoinRoom(c app.Conn, room string) error {
	gc, err := gatewayOf(c)
	if err != nil {
		return err
	}
	return h.Join(gc, room)
}

// LeaveRoom removes c from room.
func (h *Hub) LeaveRoom(c app.Conn, room string) error {
	gc, err := gatewayOf(c)
	if err != nil {
		return err
	}
	return h.Leave(gc, room)
}

// Rooms lists the rooms c is in.
func (h *Hub) Rooms(c app.Conn) []string {
	gc, err := gatewayOf(c)
	if err != nil {
		return nil
	}
	return h.ConnRooms(gc)
}

// BindUser binds c to uid, as Bind.
func (h *Hub) BindUser(c app.Conn, uid string) error {
	gc, err := gatewayOf(c)
	if err != nil {
		return err
	}
	return h.Bind(gc, uid)
}

// UnbindUser removes c's user binding.
func (h *Hub) UnbindUser(c app.Conn) error {
	gc, err := gatewayOf(c)
	if err != nil {
		return err
	}
	return h.Unbind(gc)
}

// UserOf returns the user c is bound to, or "".
func (h *Hub) UserOf(c app.Conn) string {
	gc, err := gatewayOf(c)
	if err != nil {
		return ""
	}
	return h.ConnUser(gc)
}

// Logger is the worker's logger (Options.Log).
func (h *Hub) Logger() *slog.Logger { return h.log }

// RefreshToken verifies a new connection token for c with
// Options.RefreshToken; app.ErrNoTokens without one.
func (h *Hub) RefreshToken(c app.Conn, token string) (time.Time, error) {
	gc, err := gatewayOf(c)
	if err != nil {
		return time.Time{}, err
	}
	if h.opts.RefreshToken == nil {
		return time.Time{}, app.ErrNoTokens
	}
	return h.opts.RefreshToken(gc, token)
}
