package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
	"unicode/utf8"
)

// Chat is the chat room app (-app chat): one JSON object per text frame, as
// docs/protocol.md describes. A connection joins rooms under a name, which
// is also its user id, so a whisper reaches every connection of that name on
// any worker of any host.
type Chat struct {
	w   Worker
	log *slog.Logger
}

// Limits of the chat protocol (docs/protocol.md).
const (
	maxChatName = 64
	maxChatText = 4096
	// maxChatMessage is the largest client message: the longest text, in
	// UTF-8, and its fields. The worker reads no more from a chat client
	// (app.MessageLimiter; issue 10: 10 MiB say messages were read and
	// queued whole).
	maxChatMessage = 4*maxChatText + 1024
	// A members reply is paged (issue 10: one reply with every name of a
	// large room passed the send buffer and closed the asker with 1008):
	// at most membersPage names and membersPageBytes of them a page.
	membersPage      = 100
	membersPageBytes = 16 << 10
)

// chatIn is every client message; fields unused by a type are ignored.
type chatIn struct {
	Type  string  `json:"type"`
	Room  *string `json:"room"`
	Name  *string `json:"name"`
	Text  *string `json:"text"`
	To    *string `json:"to"`
	Conn  *string `json:"conn"`
	Token *string `json:"token"`
	// After pages a members reply: the names after this one.
	After *string `json:"after"`
	// Since is where a join resumes a room's history, or an inbox the
	// connection's user's.
	Since *chatSince `json:"since"`
	// Inbox, on a join, is where the connection's user's kept whispers
	// resume (chat_inbox.go).
	Inbox *chatSince `json:"inbox"`
}

// chatSince is a position in a room's history, as the client saw it last.
type chatSince struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// chatOut is every server message.
type chatOut struct {
	Type        string   `json:"type"`
	Room        string   `json:"room,omitempty"`
	Name        string   `json:"name,omitempty"`
	From        string   `json:"from,omitempty"`
	Text        string   `json:"text,omitempty"`
	Names       []string `json:"names,omitempty"`
	Count       *int     `json:"count,omitempty"`
	Conn        string   `json:"conn,omitempty"`
	Online      *bool    `json:"online,omitempty"`
	Connections *int     `json:"connections,omitempty"`
	Error       string   `json:"error,omitempty"`
	Next        string   `json:"next,omitempty"`
	Expires     string   `json:"expires,omitempty"`
	// Offset and Epoch are a said's position in the room's history, and
	// the room's position in a joined sent to the joiner (history.go).
	Offset    *uint64 `json:"offset,omitempty"`
	Epoch     string  `json:"epoch,omitempty"`
	Recovered *bool   `json:"recovered,omitempty"`
}

func (o chatOut) msg() Message {
	b, _ := json.Marshal(o) // strings and slices: cannot fail
	return Message{Data: b}
}

// NewChat returns the chat app.
func NewChat() *Chat { return &Chat{log: slog.Default()} }

// MaxMessage is the chat protocol's largest client message, in bytes
// (app.MessageLimiter): a larger one closes the connection with 1009.
func (ch *Chat) MaxMessage() int64 { return maxChatMessage }

// StartWorker keeps the worker's services.
func (ch *Chat) StartWorker(_ context.Context, w Worker) error {
	ch.w, ch.log = w, w.Logger()
	return nil
}

// OnOpen accepts every connection. One with a connection token (-jwt-*)
// is bound to the token's user already: that is its name, and it may join
// under no other.
func (ch *Chat) OnOpen(c Conn) error {
	if uid := ch.w.UserOf(c); uid != "" {
		c.SetValue(uid)
	}
	return nil
}

// OnClose tells the rooms the connection was in that it left.
func (ch *Chat) OnClose(c Conn, _ int) {
	name, _ := c.Value().(string)
	for _, room := range ch.w.Rooms(c) {
		ch.w.SendToRoom(room, chatOut{Type: "left", Room: room, Name: name}.msg(), c.ID())
	}
}

// OnMessage handles one client message; a bad one gets an error message
// back and the connection stays.
func (ch *Chat) OnMessage(c Conn, m Message) {
	if err := ch.handle(c, m); err != nil {
		c.Send(chatOut{Type: "error", Error: err.Error()}.msg())
	}
}

func (ch *Chat) handle(c Conn, m Message) error {
	if m.Binary {
		return errors.New("chat messages are JSON text frames")
	}
	var in chatIn
	if err := json.Unmarshal(m.Data, &in); err != nil {
		return fmt.Errorf("bad JSON: %v", err)
	}
	switch in.Type {
	case "join":
		return ch.join(c, in)
	case "say":
		return ch.say(c, in)
	case "leave":
		return ch.leave(c, in)
	case "members":
		return ch.members(c, in)
	case "whisper":
		return ch.whisper(c, in)
	case "inbox":
		return ch.inbox(c, in)
	case "whoami":
		return c.Send(chatOut{Type: "you", Conn: c.ID(), Name: nameOf(c)}.msg())
	case "online":
		return ch.online(c, in)
	case "count":
		return ch.count(c)
	case "refresh":
		return ch.refresh(c, in)
	case "":
		return errors.New(`missing field "type"`)
	}
	return fmt.Errorf("unknown type %q", in.Type)
}

// need returns a required string field, checked.
func need(field string, v *string, max int) (string, error) {
	switch {
	case v == nil || *v == "":
		return "", fmt.Errorf("missing field %q", field)
	case utf8.RuneCountInString(*v) > max:
		return "", fmt.Errorf("field %q longer than %d characters", field, max)
	}
	return *v, nil
}

func (ch *Chat) join(c Conn, in chatIn) error {
	room, err := need("room", in.Room, maxChatName)
	if err != nil {
		return err
	}
	old := nameOf(c)
	if old != "" && (in.Name == nil || *in.Name == "") {
		in.Name = &old // named by its token or an earlier join
	}
	name, err := chatName("name", in.Name)
	if err != nil {
		return err
	}
	if old != "" && old != name {
		return fmt.Errorf("already named %q on this connection; it cannot join as %q", old, name)
	}
	if err := ch.bindName(c, name, in.Inbox); err != nil {
		return err
	}
	c.SetValue(name)
	if hw, ok := ch.w.(Historian); ok && (in.Since != nil || hw.HasHistory(room)) {
		return ch.joinKept(hw, c, room, name, in.Since)
	}
	if err := ch.w.JoinRoom(c, room); err != nil {
		return err
	}
	return ch.w.SendToRoom(room, chatOut{Type: "joined", Room: room, Name: name}.msg(), "")
}

// refresh takes a new connection token, so that -jwt-expire-close does not
// close the connection when the first one expires.
func (ch *Chat) refresh(c Conn, in chatIn) error {
	tok, err := need("token", in.Token, 8192)
	if err != nil {
		return err
	}
	exp, err := ch.w.RefreshToken(c, tok)
	if err != nil {
		return err
	}
	out := chatOut{Type: "refreshed"}
	if !exp.IsZero() {
		out.Expires = exp.UTC().Format(time.RFC3339)
	}
	return c.Send(out.msg())
}

// member returns the sender's name, checking it is in room.
func (ch *Chat) member(c Conn, room string) (string, error) {
	for _, r := range ch.w.Rooms(c) {
		if r == room {
			name, _ := c.Value().(string)
			return name, nil
		}
	}
	return "", fmt.Errorf("not in room %q", room)
}

func (ch *Chat) say(c Conn, in chatIn) error {
	room, err := need("room", in.Room, maxChatName)
	if err != nil {
		return err
	}
	text, err := need("text", in.Text, maxChatText)
	if err != nil {
		return err
	}
	name, err := ch.member(c, room)
	if err != nil {
		return err
	}
	said := chatOut{Type: "said", Room: room, From: name, Text: text}
	if hw, ok := ch.w.(Historian); ok && hw.HasHistory(room) {
		_, err := hw.SendToRoomKept(room, said.msg(), func(_ Message, p Position) Message { return said.at(p).msg() })
		return err
	}
	return ch.w.SendToRoom(room, said.msg(), "")
}

func (ch *Chat) leave(c Conn, in chatIn) error {
	room, err := need("room", in.Room, maxChatName)
	if err != nil {
		return err
	}
	name, err := ch.member(c, room)
	if err != nil {
		return err
	}
	if err := ch.w.LeaveRoom(c, room); err != nil {
		return err
	}
	// The leaver is no longer a member when the room's message comes back
	// through the bus: tell it directly, and the others through the room.
	left := chatOut{Type: "left", Room: room, Name: name}.msg()
	if err := c.Send(left); err != nil {
		return err
	}
	return ch.w.SendToRoom(room, left, c.ID())
}

// members answers with one page of the room's names: the first, or those
// after in.After; Next names where the following page starts.
func (ch *Chat) members(c Conn, in chatIn) error {
	room, err := need("room", in.Room, maxChatName)
	if err != nil {
		return err
	}
	after := ""
	if in.After != nil {
		if after, err = need("after", in.After, maxChatName); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := ch.w.RoomUsers(ctx, room, after, membersPage)
	if err != nil {
		return err
	}
	names, more := fitPage(p.Users, membersPageBytes)
	out := chatOut{Type: "members", Room: room, Names: names, Count: &p.Count}
	if (more || p.More) && len(names) > 0 {
		out.Next = names[len(names)-1]
	}
	return c.Send(out.msg())
}

// fitPage returns the first names that fit in size bytes of JSON, and
// whether some were left out.
func fitPage(names []string, size int) ([]string, bool) {
	used := 0
	for i, n := range names {
		b, _ := json.Marshal(n) // a string: cannot fail
		if used += len(b) + 1; used > size && i > 0 {
			return names[:i], true
		}
	}
	return names, false
}

// nameOf is the connection's chat name, or "".
func nameOf(c Conn) string {
	name, _ := c.Value().(string)
	return name
}

// online answers whether a user (by name) or a connection (by id) is
// connected anywhere in the cluster.
func (ch *Chat) online(c Conn, in chatIn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	switch {
	case in.Name != nil:
		name, err := chatName("name", in.Name)
		if err != nil {
			return err
		}
		n, err := ch.w.UserConnections(ctx, name)
		if err != nil {
			return err
		}
		on := n > 0
		return c.Send(chatOut{Type: "online", Name: name, Online: &on, Connections: &n}.msg())
	case in.Conn != nil:
		id, err := need("conn", in.Conn, 256)
		if err != nil {
			return err
		}
		on, err := ch.w.IsOnline(ctx, id)
		if err != nil {
			return err
		}
		return c.Send(chatOut{Type: "online", Conn: id, Online: &on}.msg())
	}
	return errors.New(`missing field "name" or "conn"`)
}

// count answers how many connections the cluster has.
func (ch *Chat) count(c Conn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := ch.w.ConnectionCount(ctx)
	if err != nil {
		return err
	}
	return c.Send(chatOut{Type: "count", Connections: &n}.msg())
}
