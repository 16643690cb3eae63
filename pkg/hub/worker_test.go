package hub

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// wrapped is a worker's own per-connection type embedding Conn, as
// internal/worker's does (with its mailbox).
type wrapped struct{ Conn }

// foreign is an app.Conn the hub did not make.
type foreign struct{ app.Conn }

// TestHubAsAppWorker: the hub's app.Worker calls take the application's
// view of a connection, whether a Conn or a type embedding one, and refuse
// any other app.Conn.
func TestHubAsAppWorker(t *testing.T) {
	_, ws2 := cluster(t, 2)
	a, b := ws2[0], ws2[1]
	cl := a.dial(t)
	var w app.Worker = a.hub
	var ac app.Conn = &wrapped{Conn: MakeConn(cl.conn, "v", nil)}

	if ac.ID() != cl.conn.ID() || ac.Value() != "v" || ac.Handshake() != nil {
		t.Fatalf("the app's view: id %q value %v handshake %v", ac.ID(), ac.Value(), ac.Handshake())
	}
	must(t, ac.Send(app.Text("direct")))
	cl.expect(t, "direct")

	must(t, w.JoinRoom(ac, "lobby"))
	if rs := w.Rooms(ac); !slices.Equal(rs, []string{"lobby"}) {
		t.Fatalf("Rooms = %q", rs)
	}
	must(t, b.hub.SendToRoom("lobby", app.Text("room"), ""))
	cl.expect(t, "room")
	must(t, w.BindUser(ac, "ann"))
	if u := w.UserOf(ac); u != "ann" {
		t.Fatalf("UserOf = %q", u)
	}
	must(t, b.hub.SendToUser("ann", app.Text("user")))
	cl.expect(t, "user")
	must(t, w.UnbindUser(ac))
	must(t, w.LeaveRoom(ac, "lobby"))
	if w.UserOf(ac) != "" || len(w.Rooms(ac)) != 0 {
		t.Fatalf("after leaving: user %q rooms %q", w.UserOf(ac), w.Rooms(ac))
	}

	other := foreign{}
	if err := w.JoinRoom(other, "lobby"); !errors.Is(err, ErrNotLocal) {
		t.Errorf("JoinRoom(foreign) = %v, want ErrNotLocal", err)
	}
	if err := w.BindUser(other, "ann"); !errors.Is(err, ErrNotLocal) {
		t.Errorf("BindUser(foreign) = %v, want ErrNotLocal", err)
	}
	if _, err := w.RefreshToken(ac, "t"); !errors.Is(err, app.ErrNoTokens) {
		t.Errorf("RefreshToken without tokens = %v, want app.ErrNoTokens", err)
	}
	if w.Logger() == nil {
		t.Error("no logger")
	}
}

// TestRefreshTokenReachesTheWorker: RefreshToken hands the gateway
// connection behind the app's view to Options.RefreshToken.
func TestRefreshTokenReachesTheWorker(t *testing.T) {
	var got *gateway.Conn
	exp := time.Unix(2e9, 0)
	h := New(Options{RefreshToken: func(c *gateway.Conn, token string) (time.Time, error) {
		got = c
		return exp, nil
	}})
	gc := &gateway.Conn{}
	c := MakeConn(gc, nil, nil)
	if e, err := h.RefreshToken(&c, "t"); err != nil || !e.Equal(exp) || got != gc {
		t.Fatalf("RefreshToken = %v, %v; conn %p, want %p", e, err, got, gc)
	}
}
