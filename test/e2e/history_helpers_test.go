package e2e

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// histMsg is a chat message with the history fields (docs/protocol.md).
type histMsg struct {
	Type      string     `json:"type"`
	Room      string     `json:"room,omitempty"`
	Name      string     `json:"name,omitempty"`
	From      string     `json:"from,omitempty"`
	Text      string     `json:"text,omitempty"`
	Error     string     `json:"error,omitempty"`
	Offset    *uint64    `json:"offset,omitempty"`
	Epoch     string     `json:"epoch,omitempty"`
	Recovered *bool      `json:"recovered,omitempty"`
	Since     *histSince `json:"since,omitempty"`
}

type histSince struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

func (c *wsClient) sendHist(m histMsg) {
	c.t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(string(b))
}

// nextHist reads the next chat message.
func (c *wsClient) nextHist() histMsg {
	c.t.Helper()
	ev := c.nextMessage(10 * time.Second)
	var m histMsg
	if err := json.Unmarshal(ev.data, &m); err != nil {
		c.t.Fatalf("not chat JSON: %q", ev.data)
	}
	return m
}

// joinHist joins room as name, since a position or fresh, and returns the
// said messages replayed before this client's own joined, and that joined.
// Other clients' joined messages are skipped.
func (c *wsClient) joinHist(room, name string, since *histSince) ([]histMsg, histMsg) {
	c.t.Helper()
	c.sendHist(histMsg{Type: "join", Room: room, Name: name, Since: since})
	var said []histMsg
	for {
		m := c.nextHist()
		switch {
		case m.Type == "said":
			said = append(said, m)
		case m.Type == "joined" && m.Name == name:
			return said, m
		case m.Type == "joined":
		default:
			c.t.Fatalf("joining %s: got %+v", room, m)
		}
	}
}

// say sends n messages "<prefix>1".."<prefix>n" to room.
func (c *wsClient) say(room, prefix string, n int) {
	c.t.Helper()
	for i := 1; i <= n; i++ {
		c.sendHist(histMsg{Type: "say", Room: room, Text: fmt.Sprintf("%s%d", prefix, i)})
	}
}

// saidUntil reads said messages (skipping joined and left) up to the one
// with text last, and returns them.
func (c *wsClient) saidUntil(last string) []histMsg {
	c.t.Helper()
	return c.saidUntilWithin(last, 10*time.Second)
}

// saidUntilWithin is saidUntil waiting up to wait for each message.
func (c *wsClient) saidUntilWithin(last string, wait time.Duration) []histMsg {
	c.t.Helper()
	var out []histMsg
	for {
		ev := c.nextMessage(wait)
		var m histMsg
		if err := json.Unmarshal(ev.data, &m); err != nil {
			c.t.Fatalf("not chat JSON: %q", ev.data)
		}
		switch m.Type {
		case "joined", "left":
			continue
		case "said":
			out = append(out, m)
			if m.Text == last {
				return out
			}
		default:
			c.t.Fatalf("waiting for said %q: got %+v", last, m)
		}
	}
}

// checkSaid fails unless msgs are exactly the texts want, in order, their
// offsets strictly increasing and all of epoch.
func checkSaid(t *testing.T, msgs []histMsg, want []string, epoch string) {
	t.Helper()
	var got []string
	for _, m := range msgs {
		got = append(got, m.Text)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("said texts:\n got %v\nwant %v", got, want)
	}
	var prev uint64
	for _, m := range msgs {
		if m.Offset == nil || *m.Offset <= prev || m.Epoch != epoch {
			t.Fatalf("said %q: offset %v epoch %q, after %d in epoch %q", m.Text, m.Offset, m.Epoch, prev, epoch)
		}
		prev = *m.Offset
	}
}

func texts(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

// dialOtherWorker dials until the connection lands on another worker than
// the pid (SO_REUSEPORT spreads them), and returns it.
func (c *cluster) dialOtherWorker(pid int) *wsClient {
	c.t.Helper()
	for range 40 {
		cl := c.dial()
		if c.owners([]*wsClient{cl})[cl].WorkerPID != pid {
			return cl
		}
		cl.close()
	}
	c.t.Fatalf("40 connections all landed on worker %d", pid)
	return nil
}

// sayAsync sends n messages "<prefix>1".. from a goroutine, returning a
// channel that yields the first write error (or nil) once done.
func (c *wsClient) sayAsync(room, prefix string, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= n; i++ {
			b, _ := json.Marshal(histMsg{Type: "say", Room: room, Text: fmt.Sprintf("%s%d", prefix, i)})
			if err := c.write(ws.OpText, b); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}
