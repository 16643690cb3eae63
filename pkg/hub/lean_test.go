package hub

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// TestLeanConn: a lean view is the gateway connection itself: it keeps
// the application's value in the gateway connection's Value, shows the
// upgrade request until Opened, and the hub's app.Worker calls know it.
func TestLeanConn(t *testing.T) {
	if unsafe.Sizeof(LeanConn{}) != unsafe.Sizeof(gateway.Conn{}) {
		t.Fatalf("LeanConn is %d bytes, gateway.Conn %d", unsafe.Sizeof(LeanConn{}), unsafe.Sizeof(gateway.Conn{}))
	}
	_, ws2 := cluster(t, 2)
	a, b := ws2[0], ws2[1]
	cl := a.dial(t)
	hs := &app.Handshake{URI: "/x"}
	lc := OpenLean(cl.conn, "admitted", hs)
	var ac app.Conn = lc
	if ac.ID() != cl.conn.ID() || ac.RemoteAddr() != cl.conn.RemoteAddr() || ac.Value() != "admitted" || ac.Handshake() != hs {
		t.Fatalf("while opening: id %q value %v handshake %v", ac.ID(), ac.Value(), ac.Handshake())
	}
	ac.SetValue("set in OnOpen")
	lc.Opened()
	if ac.Value() != "set in OnOpen" || ac.Handshake() != nil || cl.conn.Value != "set in OnOpen" {
		t.Fatalf("after Opened: value %v handshake %v, gateway Value %v", ac.Value(), ac.Handshake(), cl.conn.Value)
	}
	if Lean(cl.conn) != lc {
		t.Fatal("Lean gives another view")
	}
	ac.SetValue(7)
	if cl.conn.Value != 7 {
		t.Fatalf("gateway Value %v after SetValue(7)", cl.conn.Value)
	}
	// Without a request, the value is the gateway Value from the start.
	if v := OpenLean(&gateway.Conn{}, "v", nil); v.Value() != "v" || v.Handshake() != nil {
		t.Fatalf("opened without a request: value %v handshake %v", v.Value(), v.Handshake())
	}

	must(t, ac.Send(app.Text("direct")))
	cl.expect(t, "direct")
	var w app.Worker = a.hub
	must(t, w.JoinRoom(ac, "lobby"))
	if rs := w.Rooms(ac); !slices.Equal(rs, []string{"lobby"}) {
		t.Fatalf("Rooms = %q", rs)
	}
	must(t, b.hub.SendToRoom("lobby", app.Text("room"), ""))
	cl.expect(t, "room")
	must(t, w.LeaveRoom(ac, "lobby"))
}
