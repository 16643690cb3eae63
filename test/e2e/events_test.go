package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/nats-io/nats.go"
)

// backendEvent is any of the -events payloads (docs/backend.md).
type backendEvent struct {
	Conn   string `json:"conn"`
	Worker struct {
		Node string
		PID  int
	} `json:"worker"`
	Remote string              `json:"remote"`
	URI    string              `json:"uri"`
	Query  map[string][]string `json:"query"`
	Header map[string]string   `json:"header"`
	Binary bool                `json:"binary"`
	Text   string              `json:"text"`
	Data   []byte              `json:"data"`
	Code   int                 `json:"code"`
	Rooms  []string            `json:"rooms"`
	UID    string              `json:"uid"`
	kind   string
}

// TestEventsBackend plays a backend written against NATS only: it consumes
// the workers' connection events in a queue group and drives the clients
// through the documented send and command subjects.
func TestEventsBackend(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 4, app: "none", extra: []string{"-events", "-events-headers", "X-App-Token"}})
	nc := natsConnect(t, c.status().Master.NATSURL)
	evs := make(chan backendEvent, 64)
	// Two backend instances in one queue group: each event reaches one.
	for i := 0; i < 2; i++ {
		if _, err := nc.QueueSubscribe("wsfleet.events.>", "backend", func(m *nats.Msg) {
			var ev backendEvent
			if err := json.Unmarshal(m.Data, &ev); err != nil {
				t.Errorf("event %s: %v", m.Subject, err)
			}
			ev.kind = strings.TrimPrefix(m.Subject, "wsfleet.events.")
			evs <- ev
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	next := func(kind string) backendEvent {
		t.Helper()
		select {
		case ev := <-evs:
			if ev.kind != kind {
				t.Fatalf("event %s %+v, want %s", ev.kind, ev, kind)
			}
			return ev
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s event", kind)
		}
		return backendEvent{}
	}

	hdr := ws.HandshakeHeaderHTTP(http.Header{"X-App-Token": {"t0k"}})
	cl := dialWSWith(t, c.addr, "/chat?room=lobby&user=ann", hdr)
	open := next("open")
	if open.Query["room"][0] != "lobby" || open.Header["X-App-Token"] != "t0k" || open.URI != "/chat?room=lobby&user=ann" ||
		!strings.HasPrefix(open.Conn, open.Worker.Node+"-") {
		t.Fatalf("open event %+v", open)
	}
	cl.send("你好")
	if ev := next("message"); ev.Conn != open.Conn || ev.Text != "你好" || ev.Binary {
		t.Fatalf("message event %+v", ev)
	}
	cl.sendBinary([]byte{0, 1, 2})
	if ev := next("message"); !ev.Binary || fmt.Sprint(ev.Data) != "[0 1 2]" {
		t.Fatalf("binary message event %+v", ev)
	}

	// To the connection, on its worker's subject.
	subj := fmt.Sprintf("wsfleet.conn.%s.%d", open.Worker.Node, open.Worker.PID)
	pub := func(subject string, hdr nats.Header, data string) {
		t.Helper()
		if err := nc.PublishMsg(&nats.Msg{Subject: subject, Header: hdr, Data: []byte(data)}); err != nil {
			t.Fatal(err)
		}
	}
	pub(subj, nats.Header{"Wsfleet-Conn": {open.Conn}}, "direct")
	cl.expect("direct")
	// Commands: join a room, bind a user, then send to them.
	pub(subj, nats.Header{"Wsfleet-Conn": {open.Conn}, "Wsfleet-Join": {"lobby"}}, "")
	pub(subj, nats.Header{"Wsfleet-Conn": {open.Conn}, "Wsfleet-Bind": {"ann"}}, "")
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// Commands take effect asynchronously (docs/backend.md): until the
	// worker has subscribed to the room's and the user's subjects, what is
	// published there reaches nobody, so publish until one arrives. A
	// retry can deliver a second copy later, even after the next step's
	// message (the room's and the user's subjects are separate
	// subscriptions), so copies of earlier steps are skipped below.
	earlier := map[string]bool{}
	arrives := func(subject string, hdr nats.Header, data string, op ws.OpCode) {
		t.Helper()
		waitFor(t, 10*time.Second, func() error {
			pub(subject, hdr, data)
			ev, err := cl.readMessage(200 * time.Millisecond)
			for err == nil && earlier[string(ev.data)] {
				ev, err = cl.readMessage(200 * time.Millisecond)
			}
			if err != nil {
				return err
			}
			if string(ev.data) != data || ev.op != op {
				return fmt.Errorf("got op %d %q", ev.op, ev.data)
			}
			return nil
		})
		earlier[data] = true
	}
	arrives("wsfleet.room.lobby", nil, "to the room", ws.OpText)
	arrives("wsfleet.user.ann", nats.Header{"Wsfleet-Op": {"binary"}}, "to ann", ws.OpBinary)
	pub("wsfleet.all", nil, "to all")
	ev := cl.nextMessage(10 * time.Second)
	for earlier[string(ev.data)] {
		ev = cl.nextMessage(10 * time.Second)
	}
	if ev.op != ws.OpText || string(ev.data) != "to all" {
		t.Fatalf("got op %d %q, want the text \"to all\"", ev.op, ev.data)
	}
	// Close by id, with a code and reason.
	pub(subj, nats.Header{"Wsfleet-Conn": {open.Conn}, "Wsfleet-Close": {"4001"}}, "bye")
	if ev := cl.expectClose(10*time.Second, 4001); ev.reason != "bye" {
		t.Fatalf("close reason %q", ev.reason)
	}
	closed := next("close")
	if closed.Conn != open.Conn || closed.Code != 4001 || closed.UID != "ann" || fmt.Sprint(closed.Rooms) != "[lobby]" {
		t.Fatalf("close event %+v", closed)
	}
}
