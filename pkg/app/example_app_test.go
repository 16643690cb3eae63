package app_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
)

// session is what the room app keeps per connection (Conn.SetValue).
type session struct {
	room, name string
}

// rooms is a small application: a client names its room in the URL
// (?room=) and itself in a cookie; each message goes to its room.
type rooms struct {
	w app.Worker
}

// StartWorker keeps the worker's services: rooms, users, sends.
func (r *rooms) StartWorker(_ context.Context, w app.Worker) error {
	r.w = w
	return nil
}

// OnOpen reads the upgrade request, which only OnOpen sees, and keeps
// what the connection needs of it.
func (r *rooms) OnOpen(c app.Conn) error {
	h := c.Handshake()
	s := &session{room: h.Query().Get("room"), name: "anonymous"}
	if ck, err := h.Cookie("name"); err == nil {
		s.name = ck.Value
	}
	if s.room == "" {
		return &app.CloseError{Code: 4400, Reason: "no room"}
	}
	c.SetValue(s)
	return r.w.JoinRoom(c, s.room)
}

// OnMessage says the message to the connection's room.
func (r *rooms) OnMessage(c app.Conn, m app.Message) {
	s := c.Value().(*session)
	r.w.SendToRoom(s.room, app.Text(s.name+": "+string(m.Data)), "")
}

// OnClose needs nothing: a closed connection leaves its rooms.
func (r *rooms) OnClose(app.Conn, int) {}

// The rest of this file stands in for a worker, so that the examples run
// here; in a program, wsfleet provides both.

// exampleConn is one client's connection.
type exampleConn struct {
	id  string
	h   *app.Handshake
	val any
}

func (c *exampleConn) ID() string                 { return c.id }
func (c *exampleConn) RemoteAddr() string         { return c.h.RemoteAddr }
func (c *exampleConn) Send(m app.Message) error   { fmt.Printf("to %s: %s\n", c.id, m.Data); return nil }
func (c *exampleConn) Close(code int, why string) { fmt.Printf("close %s: %d %s\n", c.id, code, why) }
func (c *exampleConn) Value() any                 { return c.val }
func (c *exampleConn) SetValue(v any)             { c.val = v }
func (c *exampleConn) Handshake() *app.Handshake  { return c.h }
func (c *exampleConn) opened(a app.App) error     { err := a.OnOpen(c); c.h = nil; return err }
func newConn(id, uri, cookie string) *exampleConn {
	return &exampleConn{id: id, h: &app.Handshake{URI: uri, Header: http.Header{"Cookie": {cookie}}, RemoteAddr: "203.0.113.7:50000"}}
}

// exampleWorker keeps rooms in a map; it implements the app.Worker calls
// the examples use.
type exampleWorker struct {
	app.Worker // the calls not shown here
	rooms      map[string][]app.Conn
}

func (w *exampleWorker) JoinRoom(c app.Conn, room string) error {
	w.rooms[room] = append(w.rooms[room], c)
	return nil
}

func (w *exampleWorker) SendToRoom(room string, m app.Message, except string) error {
	for _, c := range w.rooms[room] {
		if c.ID() != except {
			c.Send(m)
		}
	}
	return nil
}

// A connection's application reads its upgrade request in OnOpen, keeps
// its own state with SetValue, and uses the worker's rooms.
func ExampleConn_Handshake() {
	w := &exampleWorker{rooms: map[string][]app.Conn{}}
	a := &rooms{}
	a.StartWorker(context.Background(), w)

	ann := newConn("n1.0.1", "/chat?room=go", "name=ann")
	bob := newConn("n1.1.7", "/chat?room=go", "name=bob")
	eve := newConn("n1.2.3", "/chat", "")
	for _, c := range []*exampleConn{ann, bob, eve} {
		if err := c.opened(a); err != nil {
			fmt.Println(c.id, "refused:", err)
		}
	}
	a.OnMessage(bob, app.Text("hi all"))
	// Output:
	// n1.2.3 refused: app: close: no room
	// to n1.0.1: bob: hi all
	// to n1.1.7: bob: hi all
}

// clock is an application with a cluster timer: once per minute, for the
// whole cluster however many workers and hosts it has, every connection
// gets the time.
type clock struct{}

func (clock) StartCluster(_ context.Context, c app.Cluster) error {
	c.Every(time.Minute, func(_ context.Context, t app.Tick) {
		t.Broadcast(app.Text(fmt.Sprintf("tick %d", t.Seq())))
	})
	return nil
}
func (clock) OnOpen(app.Conn) error           { return nil }
func (clock) OnMessage(app.Conn, app.Message) {}
func (clock) OnClose(app.Conn, int)           {}

// exampleCluster fires each timer once, at minute 29,000,000.
type exampleCluster struct{ app.Cluster }

func (exampleCluster) Every(d time.Duration, fn func(context.Context, app.Tick)) {
	fn(context.Background(), exampleTick(29_000_000*time.Minute/d))
}

type exampleTick uint64

func (t exampleTick) Seq() uint64 { return uint64(t) }
func (t exampleTick) Broadcast(m app.Message) error {
	fmt.Printf("to everyone: %s\n", m.Data)
	return nil
}

// An application's cluster-wide work, such as a timer, starts once, in the
// master: ClusterStarter.
func ExampleClusterStarter() {
	var a app.App = clock{}
	a.(app.ClusterStarter).StartCluster(context.Background(), exampleCluster{})
	// Output:
	// to everyone: tick 29000000
}
