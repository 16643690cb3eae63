package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"sort"
	"testing"
	"time"
)

// FuzzChat feeds arbitrary client messages, one a line, to the chat
// protocol's parser and handlers, over an in-memory stand-in for the
// worker's services (the real ones are the hub's, tested on a real NATS).
// Whatever the bytes:
//   - nothing panics and the app never closes the connection: a bad
//     message gets an error message;
//   - everything sent to the client is one JSON object with a known type,
//     smaller than the chat's own read limit's page bound;
//   - a message that is not an object of a known type gets exactly one
//     "error" back.
//
// `go test -fuzz FuzzChat ./pkg/app` searches further.
func FuzzChat(f *testing.F) {
	for _, s := range []string{
		`{"type":"join","room":"lobby","name":"ann"}` + "\n" + `{"type":"say","room":"lobby","text":"hi"}`,
		`{"type":"join","room":"lobby","name":"ann"}` + "\n" + `{"type":"join","room":"x","name":"bob"}`,
		`{"type":"members","room":"lobby"}` + "\n" + `{"type":"members","room":"lobby","after":"m"}`,
		`{"type":"leave","room":"lobby"}` + "\n" + `{"type":"whisper","to":"ann","text":"?"}`,
		`{"type":"whoami"}` + "\n" + `{"type":"online","name":"ann"}` + "\n" + `{"type":"online","conn":"x"}` + "\n" + `{"type":"count"}`,
		`{"type":null,"room":1}`, `[]`, `"join"`, `{"type":"join","room":"` + string(bytes.Repeat([]byte("é"), 65)) + `","name":"a"}`,
		`{"type":"say","room":"lobby","text":""}`, `{`, "\xff", `{"type":"members","room":"r","after":""}`,
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"type":"whoami"}`), true)
	f.Fuzz(func(t *testing.T, input []byte, binary bool) {
		w := newMemWorker()
		ch := &Chat{log: slog.New(slog.DiscardHandler)}
		if err := ch.StartWorker(context.Background(), w); err != nil {
			t.Fatal(err)
		}
		c := w.conn("c1")
		if err := ch.OnOpen(c); err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(input, []byte("\n")) {
			if i == 16 {
				break
			}
			before := len(c.sent)
			ch.OnMessage(c, Message{Binary: binary, Data: line})
			if c.closed {
				t.Fatalf("message %q closed the connection", line)
			}
			var in struct {
				Type string `json:"type"`
			}
			bad := binary || json.Unmarshal(line, &in) != nil || !slices.Contains(chatTypes, in.Type)
			got := c.sent[before:]
			for _, out := range got {
				var m map[string]any
				if err := json.Unmarshal(out, &m); err != nil {
					t.Fatalf("reply to %q is not a JSON object: %q", line, out)
				}
				if typ, _ := m["type"].(string); !slices.Contains(chatReplies, typ) {
					t.Fatalf("reply to %q has type %q", line, typ)
				}
				if len(out) > membersPageBytes+4*maxChatText+1024 {
					t.Fatalf("reply of %d bytes", len(out))
				}
			}
			if bad && (len(got) != 1 || !bytes.Contains(got[0], []byte(`"type":"error"`))) {
				t.Fatalf("bad message %q got %q, want one error", line, got)
			}
		}
		ch.OnClose(c, 1000)
		if len(w.rooms(c)) > w.maxRooms {
			t.Fatalf("in %d rooms", len(w.rooms(c)))
		}
	})
}

var (
	chatTypes   = []string{"join", "say", "leave", "members", "whisper", "whoami", "online", "count", "refresh"}
	chatReplies = []string{"joined", "left", "said", "members", "you", "online", "count", "whisper", "refreshed", "error"}
)

// memConn is a connection of memWorker: it records what is sent to it.
type memConn struct {
	id     string
	val    any
	sent   [][]byte
	closed bool
}

func (c *memConn) ID() string            { return c.id }
func (c *memConn) RemoteAddr() string    { return "127.0.0.1:1" }
func (c *memConn) Close(int, string)     { c.closed = true }
func (c *memConn) Value() any            { return c.val }
func (c *memConn) SetValue(v any)        { c.val = v }
func (c *memConn) Handshake() *Handshake { return nil }
func (c *memConn) Send(m Message) error  { c.sent = append(c.sent, m.Data); return nil }

// memWorker is the worker's services for one process and no bus: rooms and
// users in maps, a send to a room delivered at once.
type memWorker struct {
	conns    map[string]*memConn
	room     map[string]map[string]bool // room -> conn ids
	user     map[string]string          // conn id -> uid
	maxRooms int
}

func newMemWorker() *memWorker {
	return &memWorker{conns: map[string]*memConn{}, room: map[string]map[string]bool{}, user: map[string]string{}, maxRooms: 4}
}

func (w *memWorker) conn(id string) *memConn {
	c := &memConn{id: id}
	w.conns[id] = c
	return c
}

func (w *memWorker) rooms(c Conn) []string {
	var out []string
	for r, ms := range w.room {
		if ms[c.ID()] {
			out = append(out, r)
		}
	}
	return out
}

func (w *memWorker) Broadcast(m Message) error {
	for _, c := range w.conns {
		c.Send(m)
	}
	return nil
}
func (w *memWorker) SendTo(id string, m Message) error {
	if c := w.conns[id]; c != nil {
		c.Send(m)
	}
	return nil
}
func (w *memWorker) SendToRoom(room string, m Message, except string) error {
	for id := range w.room[room] {
		if id != except {
			w.conns[id].Send(m)
		}
	}
	return nil
}
func (w *memWorker) SendToUser(uid string, m Message) error {
	for id, u := range w.user {
		if u == uid {
			w.conns[id].Send(m)
		}
	}
	return nil
}
func (w *memWorker) JoinRoom(c Conn, room string) error {
	if w.room[room][c.ID()] {
		return nil
	}
	if len(w.rooms(c)) >= w.maxRooms {
		return errors.New("too many rooms")
	}
	if w.room[room] == nil {
		w.room[room] = map[string]bool{}
	}
	w.room[room][c.ID()] = true
	return nil
}
func (w *memWorker) LeaveRoom(c Conn, room string) error {
	delete(w.room[room], c.ID())
	return nil
}
func (w *memWorker) Rooms(c Conn) []string { return w.rooms(c) }
func (w *memWorker) BindUser(c Conn, uid string) error {
	w.user[c.ID()] = uid
	return nil
}
func (w *memWorker) UnbindUser(c Conn) error { delete(w.user, c.ID()); return nil }
func (w *memWorker) UserOf(c Conn) string    { return w.user[c.ID()] }
func (w *memWorker) CloseConn(id string, code int, reason string) error {
	if c := w.conns[id]; c != nil {
		c.Close(code, reason)
	}
	return nil
}
func (w *memWorker) IsOnline(_ context.Context, id string) (bool, error) {
	return w.conns[id] != nil, nil
}
func (w *memWorker) UserConnections(_ context.Context, uid string) (int, error) {
	n := 0
	for _, u := range w.user {
		if u == uid {
			n++
		}
	}
	return n, nil
}
func (w *memWorker) ConnectionCount(context.Context) (int, error) { return len(w.conns), nil }
func (w *memWorker) RoomCount(_ context.Context, room string) (int, error) {
	return len(w.room[room]), nil
}
func (w *memWorker) RoomMembers(_ context.Context, room string) ([]Member, error) {
	var out []Member
	for id := range w.room[room] {
		out = append(out, Member{ConnID: id, UID: w.user[id]})
	}
	return out, nil
}
func (w *memWorker) RoomUsers(_ context.Context, room, after string, limit int) (UserPage, error) {
	seen := map[string]bool{}
	var users []string
	for id := range w.room[room] {
		if u := w.user[id]; u != "" && u > after && !seen[u] {
			seen[u] = true
			users = append(users, u)
		}
	}
	sort.Strings(users)
	p := UserPage{Users: users, Count: len(w.room[room])}
	if len(users) > limit {
		p.Users, p.More = users[:limit], true
	}
	return p, nil
}
func (w *memWorker) Logger() *slog.Logger { return slog.New(slog.DiscardHandler) }
func (w *memWorker) RefreshToken(Conn, string) (time.Time, error) {
	return time.Time{}, ErrNoTokens
}
