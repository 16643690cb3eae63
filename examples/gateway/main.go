// Command gateway is a chat in GatewayWorker's style, built on wsfleet:
// a client logs in with a name, joins a room, says things to the room,
// whispers to another user, and the room hears when someone leaves. The
// rooms and users span every worker of every host.
//
// Its protocol is one JSON object per message:
//
//	{"type":"login","name":"tom"}           → to the room: {"type":"login","name":"tom","room":"lobby"}
//	{"type":"say","text":"hi"}              → to the room: {"type":"say","from":"tom","text":"hi"}
//	{"type":"whisper","to":"ann","text":"…"} → to ann:     {"type":"whisper","from":"tom","text":"…"}
//	(the client goes)                       → to the room: {"type":"logout","name":"tom"}
//
// The room is the "room" query parameter of the WebSocket URL (default
// lobby), and a new client is greeted with -welcome.
package main

import (
	"context"
	"encoding/json"
	"flag"

	"github.com/wsfleet/wsfleet"
	"github.com/wsfleet/wsfleet/pkg/app"
)

// event is every message of the protocol, both ways.
type event struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
	Room string `json:"room,omitempty"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Text string `json:"text,omitempty"`
}

// member is a connection's state: its room, and its name once logged in.
type member struct{ room, name string }

type chat struct {
	w       app.Worker
	welcome string
}

func (a *chat) StartWorker(_ context.Context, w app.Worker) error {
	a.w = w
	return nil
}

func (a *chat) OnOpen(c app.Conn) error {
	room := c.Handshake().Query().Get("room")
	if room == "" {
		room = "lobby"
	}
	c.SetValue(&member{room: room})
	return send(c, event{Type: "welcome", Text: a.welcome, Room: room})
}

func (a *chat) OnMessage(c app.Conn, m app.Message) {
	var e event
	if json.Unmarshal(m.Data, &e) != nil {
		c.Close(1003, "not JSON")
		return
	}
	me := c.Value().(*member)
	switch {
	case e.Type == "login" && me.name == "" && e.Name != "":
		me.name = e.Name
		if a.w.BindUser(c, e.Name) != nil || a.w.JoinRoom(c, me.room) != nil {
			c.Close(1011, "login failed")
			return
		}
		a.toRoom(me.room, event{Type: "login", Name: me.name, Room: me.room}, "")
	case e.Type == "say" && me.name != "":
		a.toRoom(me.room, event{Type: "say", From: me.name, Text: e.Text}, "")
	case e.Type == "whisper" && me.name != "":
		b, _ := json.Marshal(event{Type: "whisper", From: me.name, Text: e.Text})
		a.w.SendToUser(e.To, app.Text(string(b)))
	default:
		send(c, event{Type: "error", Text: "log in first, once, with a name"})
	}
}

func (a *chat) OnClose(c app.Conn, _ int) {
	if me, ok := c.Value().(*member); ok && me.name != "" {
		a.toRoom(me.room, event{Type: "logout", Name: me.name}, c.ID())
	}
}

// toRoom sends e to every member of room but the connection except.
func (a *chat) toRoom(room string, e event, except string) {
	b, _ := json.Marshal(e)
	a.w.SendToRoom(room, app.Text(string(b)), except)
}

func send(c app.Conn, e event) error {
	b, _ := json.Marshal(e)
	return c.Send(app.Text(string(b)))
}

func main() {
	welcome := "welcome to the chat"
	s := wsfleet.New(func() (app.App, error) { return &chat{welcome: welcome}, nil })
	s.Flags = func(fs *flag.FlagSet) { fs.StringVar(&welcome, "welcome", welcome, "what a new client is told") }
	s.Main()
}
