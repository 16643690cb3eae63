package e2e

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gobwas/ws"
)

// sendJSON sends v as one chat message.
func (c *wsClient) sendJSON(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(string(b))
}

// joinInbox joins room as name asking for the inbox (inbox: {} for its
// position, or a position to resume): it returns the whispers replayed,
// the inbox answer, and reads up to its own joined.
func (c *wsClient) joinInbox(room, name string, inbox map[string]any) ([]histMsg, histMsg) {
	c.t.Helper()
	c.sendJSON(map[string]any{"type": "join", "room": room, "name": name, "inbox": inbox})
	var ws []histMsg
	var box *histMsg
	for {
		m := c.nextHist()
		switch {
		case m.Type == "whisper" && box == nil:
			ws = append(ws, m)
		case m.Type == "inbox" && box == nil:
			box = &m
		case m.Type == "joined" && m.Name == name && box != nil:
			return ws, *box
		case m.Type == "joined", m.Type == "said":
		default:
			c.t.Fatalf("joining %s as %s with inbox: got %+v", room, name, m)
		}
	}
}

// whispersUntil reads whispers (skipping joined, left, said; recording an
// inbox answer) up to the one with text last.
func (c *wsClient) whispersUntil(last string) ([]histMsg, *histMsg) {
	c.t.Helper()
	var out []histMsg
	var box *histMsg
	for {
		m := c.nextHist()
		switch m.Type {
		case "joined", "left", "said":
		case "inbox":
			box = &m
		case "whisper":
			out = append(out, m)
			if m.Text == last {
				return out, box
			}
		default:
			c.t.Fatalf("waiting for whisper %q: got %+v", last, m)
		}
	}
}

// whisperAsync whispers "<prefix>1".."<prefix>n" to name from a goroutine;
// the channel yields the first write error (or nil) once done.
func (c *wsClient) whisperAsync(to, prefix string, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			b, _ := json.Marshal(map[string]string{"type": "whisper", "to": to, "text": fmt.Sprintf("%s%d", prefix, i)})
			if err := c.write(ws.OpText, b); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

// checkWhispers is checkSaid for whispers: exactly the texts want, in
// order, offsets strictly increasing, all of epoch.
func checkWhispers(t *testing.T, msgs []histMsg, want []string, epoch string) {
	t.Helper()
	checkSaid(t, msgs, want, epoch)
}

// TestChatHistoryInbox: whispers to a user are kept (the default
// -history's '@*' rule) and carry their position. Bob has two
// connections on different workers; both go; alice whispers meanwhile;
// bob comes back on two connections, resuming his inbox on his naming
// join while alice keeps whispering: each connection gets every missed
// whisper, then the live ones, once each, in order, and the inbox answer
// says recovered. A position older than what the history keeps (its rule
// keeps 30) answers recovered false; one of another epoch too, with
// nothing replayed.
func TestChatHistoryInbox(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2, app: "chat", extra: []string{"-history", "*=100,1h;@*=30,1h"}})
	b1 := c.dial()
	b2 := c.dialOtherWorker(c.owners([]*wsClient{b1})[b1].WorkerPID)
	_, box1 := b1.joinInbox("bobroom", "bob", map[string]any{})
	_, box2 := b2.joinInbox("bobroom", "bob", map[string]any{})
	if box1.Epoch == "" || box1.Offset == nil || box1.Recovered != nil || box2.Epoch != box1.Epoch {
		t.Fatalf("inbox answers %+v %+v: want a position, no recovered", box1, box2)
	}
	epoch := box1.Epoch

	a := c.dial()
	a.joinHist("lobby", "alice", nil)
	for i := 1; i <= 3; i++ {
		a.sendJSON(map[string]string{"type": "whisper", "to": "bob", "text": fmt.Sprintf("w%d", i)})
	}
	got1, _ := b1.whispersUntil("w3")
	got2, _ := b2.whispersUntil("w3")
	checkWhispers(t, got1, texts("w", 1, 3), epoch)
	checkWhispers(t, got2, texts("w", 1, 3), epoch)
	if got1[2].From != "alice" || *got1[2].Offset != *got2[2].Offset {
		t.Fatalf("w3 on both connections: %+v %+v", got1[2], got2[2])
	}
	last := *got1[2].Offset
	b1.close()
	b2.close()

	// Gone: whispered meanwhile (kept although bob is offline).
	for i := 1; i <= 5; i++ {
		a.sendJSON(map[string]string{"type": "whisper", "to": "bob", "text": fmt.Sprintf("m%d", i)})
	}
	a.sendJSON(map[string]string{"type": "whoami"})
	for m := a.nextHist(); m.Type != "you"; m = a.nextHist() {
		if m.Type == "error" {
			t.Fatalf("whisper to offline bob: %+v", m)
		}
	}

	// Back, resuming on two workers while alice goes on whispering.
	n1 := c.dial()
	n2 := c.dialOtherWorker(c.owners([]*wsClient{n1})[n1].WorkerPID)
	live := a.whisperAsync("bob", "x", 15)
	since := map[string]any{"offset": last, "epoch": epoch}
	for _, n := range []*wsClient{n1, n2} {
		n.sendJSON(map[string]any{"type": "join", "room": "bobroom", "name": "bob", "inbox": since})
	}
	if err := <-live; err != nil {
		t.Fatal(err)
	}
	for _, n := range []*wsClient{n1, n2} {
		got, box := n.whispersUntil("x15")
		var texts []string
		for _, m := range got {
			texts = append(texts, m.Text)
		}
		want := append(textsOf("m", 5), textsOf("x", 15)...)
		checkWhispers(t, got, want, epoch)
		for box == nil { // all replayed: the answer comes after them
			m := n.nextHist()
			switch m.Type {
			case "inbox":
				box = &m
			case "whisper":
				t.Fatalf("after x15: %+v", m)
			}
		}
		if box == nil || box.Recovered == nil || !*box.Recovered || box.Epoch != epoch {
			t.Fatalf("inbox answer %+v, want recovered true (got %v)", box, texts)
		}
	}

	// Nothing more: the next whisper is the next one alice sends.
	a.sendJSON(map[string]string{"type": "whisper", "to": "bob", "text": "end"})
	for _, n := range []*wsClient{n1, n2} {
		if got, _ := n.whispersUntil("end"); len(got) != 1 {
			t.Fatalf("after the resume: %+v", got)
		}
	}

	// Older than the history keeps: 30 kept, 21 since w3 plus 15 more.
	for i := 1; i <= 15; i++ {
		a.sendJSON(map[string]string{"type": "whisper", "to": "bob", "text": fmt.Sprintf("y%d", i)})
	}
	n1.whispersUntil("y15")
	old := c.dial()
	ws, box := old.joinInbox("bobroom", "bob", since)
	if box.Recovered == nil || *box.Recovered || len(ws) != 30 || ws[29].Text != "y15" {
		t.Fatalf("resume past the history: %d whispers, inbox %+v; want the 30 kept and recovered false", len(ws), box)
	}
	// Another epoch: nothing replayed, recovered false, the position.
	other := c.dial()
	ws, box = other.joinInbox("bobroom", "bob", map[string]any{"offset": 1, "epoch": "not-" + epoch})
	if len(ws) != 0 || box.Recovered == nil || *box.Recovered || box.Epoch != epoch || box.Offset == nil {
		t.Fatalf("resume from another epoch: %d whispers, inbox %+v", len(ws), box)
	}
}

func textsOf(prefix string, n int) []string { return texts(prefix, 1, n) }
