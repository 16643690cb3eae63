package bus

import (
	"reflect"
	"testing"

	"github.com/nats-io/nats.go"
)

// TestCommandOfClose: how a Wsfleet-Close header reads, whatever a backend
// put in it. An empty value is a close with no code (1000 is sent); a value
// that is not a number is -1, which the receiver refuses by name.
func TestCommandOfClose(t *testing.T) {
	for _, c := range []struct {
		name   string
		header nats.Header
		close  bool
		code   int
	}{
		{"absent", nats.Header{HeaderConn: {"c"}}, false, 0},
		{"a code", nats.Header{HeaderClose: {"4000"}}, true, 4000},
		{"spaces", nats.Header{HeaderClose: {" 4001 "}}, true, 4001},
		{"empty", nats.Header{HeaderClose: {""}}, true, 0},
		{"not a number", nats.Header{HeaderClose: {"bye"}}, true, -1},
		{"out of range", nats.Header{HeaderClose: {"70000"}}, true, 70000},
	} {
		cmd := commandOf(&nats.Msg{Header: c.header, Data: []byte("why")})
		if cmd.Close != c.close || cmd.Code != c.code {
			t.Errorf("%s: Close %v, Code %d; want %v, %d", c.name, cmd.Close, cmd.Code, c.close, c.code)
		}
	}
	// A command round-trips through its NATS form, the reason as payload.
	in := Command{Close: true, Code: 4002, Reason: "kicked"}
	nm := in.natsMsg("s", "n-1-2")
	if out := commandOf(nm); out != in || connOf(nm) != "n-1-2" || string(nm.Data) != "kicked" {
		t.Errorf("round trip: %+v to %q", out, connOf(nm))
	}
}

// TestMessageWire: a message's NATS form is what docs/backend.md says, and
// reads back the same; a plain broadcast carries no header at all.
func TestMessageWire(t *testing.T) {
	if nm := (Message{Data: []byte("hi")}).natsMsg("s", ""); nm.Header != nil {
		t.Errorf("a plain message has headers %v", nm.Header)
	}
	in := Message{Binary: true, Data: []byte("x"), Exclude: "n-1-3", Tick: &Tick{Timer: 2, Seq: 99}}
	nm := in.natsMsg("s", "n-1-2")
	want := nats.Header{HeaderOp: {"binary"}, HeaderExclude: {"n-1-3"}, HeaderConn: {"n-1-2"}, HeaderTick: {"2:99"}}
	if !reflect.DeepEqual(nm.Header, want) {
		t.Errorf("headers %v, want %v", nm.Header, want)
	}
	if out := messageOf(nm); !reflect.DeepEqual(out, in) || !commandOf(nm).empty() {
		t.Errorf("round trip: %+v, command %+v", out, commandOf(nm))
	}
	// A tick that does not parse is no tick: the message is delivered.
	if m := messageOf(&nats.Msg{Header: nats.Header{HeaderTick: {"t:x"}}}); m.Tick != nil {
		t.Errorf("malformed tick read as %+v", m.Tick)
	}
}

// TestCommandReplyOK: a worker answers a command only on an inbox: a
// backend's _INBOX. or the masters' reply subjects, never a room's or a
// user's subject.
func TestCommandReplyOK(t *testing.T) {
	s := subjects{"wsfleet"}
	for reply, ok := range map[string]bool{
		"_INBOX.abc.1": true, "wsfleet.masters.reply.xyz": true,
		"wsfleet.room.lobby": false, "wsfleet.user.ann": false, "": false, "other.masters.reply.x": false,
	} {
		if s.commandReplyOK(reply) != ok {
			t.Errorf("%q: want %v", reply, ok)
		}
	}
}
