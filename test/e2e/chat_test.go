package e2e

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// chatMsg is any chat protocol message (docs/protocol.md).
type chatMsg struct {
	Type        string   `json:"type"`
	Room        string   `json:"room,omitempty"`
	Name        string   `json:"name,omitempty"`
	From        string   `json:"from,omitempty"`
	Text        string   `json:"text,omitempty"`
	To          string   `json:"to,omitempty"`
	Conn        string   `json:"conn,omitempty"`
	Names       []string `json:"names,omitempty"`
	Count       int      `json:"count,omitempty"`
	Online      bool     `json:"online,omitempty"`
	Connections int      `json:"connections,omitempty"`
	Error       string   `json:"error,omitempty"`
	Next        string   `json:"next,omitempty"`
	After       string   `json:"after,omitempty"`
	Token       string   `json:"token,omitempty"`
	Expires     string   `json:"expires,omitempty"`
}

func (c *wsClient) sendChat(m chatMsg) {
	c.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(string(b))
}

// nextChat reads the next chat message.
func (c *wsClient) nextChat() chatMsg {
	c.t.Helper()
	ev := c.nextMessage(10 * time.Second)
	var m chatMsg
	if err := json.Unmarshal(ev.data, &m); err != nil {
		c.t.Fatalf("not chat JSON: %q", ev.data)
	}
	return m
}

// expectChat reads messages until one of type typ and returns it; any other
// message in between fails the test unless it is in skip.
func (c *wsClient) expectChat(typ string, skip ...string) chatMsg {
	c.t.Helper()
	for i := 0; i < 1000; i++ {
		m := c.nextChat()
		if m.Type == typ {
			return m
		}
		ok := false
		for _, s := range skip {
			ok = ok || m.Type == s
		}
		if !ok {
			c.t.Fatalf("waiting for %s, got %+v", typ, m)
		}
	}
	c.t.Fatalf("no %s in 1000 messages", typ)
	return chatMsg{}
}

// chatRoundTrip is a chat bystander's round trip (see bystanders): it joins
// a room of its own (named by text up to " trip ": "bystander N", the same
// every trip), which the chat announces through the bus even to a member
// joining again, and waits for the announcement: one message each way
// through the hub and NATS.
func (c *wsClient) chatRoundTrip(text string) error {
	room, _, _ := strings.Cut(text, " trip ")
	room = strings.ReplaceAll(room, " ", "-")
	b, _ := json.Marshal(chatMsg{Type: "join", Room: room, Name: room})
	if err := c.write(ws.OpText, b); err != nil {
		return fmt.Errorf("client %s: send: %w", c.local, err)
	}
	ev, err := c.readMessage(expectTimeout)
	if err != nil {
		return err
	}
	var m chatMsg
	if err := json.Unmarshal(ev.data, &m); err != nil || m.Type != "joined" || m.Room != room {
		return fmt.Errorf("client %s: got %q, want joined %s", c.local, ev.data, room)
	}
	return nil
}

// TestChatAcrossWorkers: eight people in one room on a four-worker cluster;
// every message said reaches every member exactly once, in each sender's
// order, whatever worker each is on.
func TestChatAcrossWorkers(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 4, app: "chat"})
	names := []string{"ann", "ben", "cai", "dan", "eve", "fay", "gus", "hal"}
	clients := c.dialN(len(names))
	workers := map[int]bool{}
	for _, o := range c.owners(clients) {
		workers[o.WorkerPID] = true
	}
	if len(workers) < 2 {
		t.Fatalf("all %d clients on one worker; the test needs several", len(clients))
	}
	for i, cl := range clients {
		cl.sendChat(chatMsg{Type: "join", Room: "lobby", Name: names[i]})
		// Everyone already in the room sees the join, the joiner included.
		for j := 0; j <= i; j++ {
			if m := clients[j].expectChat("joined"); m.Name != names[i] || m.Room != "lobby" {
				t.Fatalf("%s saw %+v, want %s joined", names[j], m, names[i])
			}
		}
	}
	const each = 5
	for k := 0; k < each; k++ {
		for i, cl := range clients {
			cl.sendChat(chatMsg{Type: "say", Room: "lobby", Text: fmt.Sprintf("%s %d", names[i], k)})
		}
	}
	for j, cl := range clients {
		next := map[string]int{} // per sender, the next number expected
		for n := 0; n < each*len(names); n++ {
			m := cl.expectChat("said")
			var seq int
			if _, err := fmt.Sscanf(strings.TrimPrefix(m.Text, m.From+" "), "%d", &seq); err != nil || m.Room != "lobby" {
				t.Fatalf("%s got %+v", names[j], m)
			}
			if seq != next[m.From] {
				t.Fatalf("%s got %q from %s, want number %d: lost, doubled or out of order", names[j], m.Text, m.From, next[m.From])
			}
			next[m.From]++
		}
	}

	clients[0].sendChat(chatMsg{Type: "members", Room: "lobby"})
	got := clients[0].expectChat("members")
	want := append([]string(nil), names...)
	sort.Strings(want)
	if fmt.Sprint(got.Names) != fmt.Sprint(want) || got.Count != len(names) {
		t.Fatalf("members %v (count %d), want %v", got.Names, got.Count, want)
	}

	// Presence from any worker: a user's connections, a connection by id,
	// the cluster's count.
	clients[3].sendChat(chatMsg{Type: "whoami"})
	me := clients[3].expectChat("you")
	clients[6].sendChat(chatMsg{Type: "online", Conn: me.Conn})
	if m := clients[6].expectChat("online"); !m.Online || m.Conn != me.Conn || me.Name != "dan" {
		t.Fatalf("online(%s) = %+v (whoami %+v)", me.Conn, m, me)
	}
	clients[6].sendChat(chatMsg{Type: "online", Conn: me.Conn + "9"})
	if m := clients[6].expectChat("online"); m.Online {
		t.Fatalf("online(unknown id) = %+v", m)
	}
	clients[5].sendChat(chatMsg{Type: "online", Name: "ann"})
	if m := clients[5].expectChat("online"); !m.Online || m.Connections != 1 {
		t.Fatalf("online(ann) = %+v", m)
	}
	clients[5].sendChat(chatMsg{Type: "count"})
	if m := clients[5].expectChat("count"); m.Connections != len(names) {
		t.Fatalf("count = %+v, want %d", m, len(names))
	}

	// A whisper finds its user on whatever worker; nobody else gets it.
	clients[0].sendChat(chatMsg{Type: "whisper", To: "hal", Text: "psst"})
	if m := clients[7].expectChat("whisper"); m.From != "ann" || m.Text != "psst" {
		t.Fatalf("whisper %+v", m)
	}
	// With the default -history, whispers are kept (docs/protocol.md,
	// "The inbox"): one to a name that is offline is no error.
	clients[0].sendChat(chatMsg{Type: "whisper", To: "nobody", Text: "?"})
	clients[0].sendChat(chatMsg{Type: "whoami"})
	if m := clients[0].expectChat("you"); m.Name != "ann" {
		t.Fatalf("whisper to nobody, then whoami: %+v", m)
	}

	// Leaving tells everyone, the leaver included; a closed connection
	// tells the rest.
	clients[1].sendChat(chatMsg{Type: "leave", Room: "lobby"})
	for j, cl := range clients {
		if m := cl.expectChat("left"); m.Name != "ben" {
			t.Fatalf("%s: %+v, want ben left", names[j], m)
		}
	}
	clients[2].close()
	for j, cl := range clients {
		if j == 1 || j == 2 {
			continue
		}
		if m := cl.expectChat("left"); m.Name != "cai" {
			t.Fatalf("%s: %+v, want cai left", names[j], m)
		}
	}
	clients[0].sendChat(chatMsg{Type: "members", Room: "lobby"})
	if m := clients[0].expectChat("members"); len(m.Names) != len(names)-2 {
		t.Fatalf("members after two left: %v", m.Names)
	}
}

// TestChatBadInput: every kind of bad message gets an error back and the
// connection stays usable.
func TestChatBadInput(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	cl := c.dial()
	for _, tc := range []struct{ send, want string }{
		{`not json`, "bad JSON"},
		{`{"room":"x"}`, `missing field "type"`},
		{`{"type":"dance"}`, `unknown type "dance"`},
		{`{"type":"join","room":"x"}`, `missing field "name"`},
		{`{"type":"join","name":"zed"}`, `missing field "room"`},
		{`{"type":"say","room":"x","text":"hi"}`, `not in room "x"`},
		{`{"type":"whisper","to":"a","text":"b"}`, "join a room first"},
		{`{"type":"join","room":"` + strings.Repeat("r", 65) + `","name":"zed"}`, "longer than 64"},
	} {
		cl.send(tc.send)
		if m := cl.expectChat("error"); !strings.Contains(m.Error, tc.want) {
			t.Errorf("%s: error %q, want %q", tc.send, m.Error, tc.want)
		}
	}
	cl.sendBinary([]byte(`{"type":"join"}`))
	if m := cl.expectChat("error"); !strings.Contains(m.Error, "text frames") {
		t.Errorf("binary frame: %q", m.Error)
	}
	cl.sendChat(chatMsg{Type: "join", Room: "x", Name: "zed"})
	if m := cl.expectChat("joined"); m.Name != "zed" {
		t.Fatalf("after the errors: %+v", m)
	}
	cl.sendChat(chatMsg{Type: "join", Room: "y", Name: "other"})
	if m := cl.expectChat("error"); !strings.Contains(m.Error, `already named "zed"`) {
		t.Fatalf("renaming: %+v", m)
	}
}
