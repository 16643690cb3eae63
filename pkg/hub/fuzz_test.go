package hub

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// FuzzCommands drives a real hub on a real NATS server with a backend's
// commands for one connection (Wsfleet-Join, -Leave, -Bind, -Unbind, as
// deliverCommand gets them), in any order and with any names, and compares
// it with a naive model: a set of rooms and a user. Whatever the commands:
//   - nothing panics, and the hub ends where the model does: the same
//     rooms (never more than MaxRooms) and the same user;
//   - every group is settled active with at least one member, and no group
//     is left once the connection is removed.
//
// Names are picked from the fuzzer's list, split at '|': unusual ones
// (empty, too long for a NATS subject, '.', '*', '>', invalid UTF-8) are
// its to find. `go test -fuzz FuzzCommands ./pkg/hub` searches further.
func FuzzCommands(f *testing.F) {
	s := natsServer(f, "127.0.0.1:0", 0)
	const maxRooms = 4
	w := workersOn(f, s.ClientURL(), 1, Options{MaxRooms: maxRooms})[0]
	c := w.dial(f)
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7}, "lobby|b|c|d|e|f")
	f.Add([]byte{0, 0x10, 0x20, 0x30, 0x40, 0x50, 0x11, 0x60}, "a|b|c|d|e|f|g")
	f.Add([]byte{2, 0x12, 3, 0x22, 1}, "ann|bob|大廳")
	f.Add([]byte{0, 0x10, 0x20}, "a.b|*|>|"+strings.Repeat("x", 5000))
	f.Add([]byte{0, 0x10, 2}, "|\xff\xfe|x y")
	f.Fuzz(func(t *testing.T, ops []byte, list string) {
		if w.gw.Lookup(c.conn.ID()) != c.conn {
			t.Fatal("the fuzzed connection is gone")
		}
		names := strings.Split(list, "|")
		if len(ops) > 32 {
			ops = ops[:32]
		}
		var rooms []string
		uid := ""
		for _, op := range ops {
			name := names[int(op>>4)%len(names)]
			var cmd bus.Command
			valid := checkName(name) == nil
			switch op % 4 {
			case 0:
				cmd.Join = name
				if valid && !slices.Contains(rooms, name) && len(rooms) < maxRooms {
					rooms = append(rooms, name)
				}
			case 1:
				cmd.Leave = name
				rooms = slices.DeleteFunc(rooms, func(r string) bool { return r == name })
			case 2:
				cmd.Bind = name
				if valid {
					uid = name
				}
			case 3:
				cmd.Unbind = true
				uid = ""
			}
			if cmd == (bus.Command{}) {
				continue // an empty name: a message, not a command
			}
			w.hub.deliverCommand(c.conn.ID(), cmd)
		}
		settle(t, w.hub)
		got := w.hub.ConnRooms(c.conn)
		slices.Sort(got)
		slices.Sort(rooms)
		if fmt.Sprint(got) != fmt.Sprint(rooms) || w.hub.ConnUser(c.conn) != uid {
			t.Fatalf("hub: rooms %q user %q; model: rooms %q user %q", got, w.hub.ConnUser(c.conn), rooms, uid)
		}
		w.hub.Remove(c.conn)
		w.hub.mu.RLock()
		defer w.hub.mu.RUnlock()
		if len(w.hub.rooms)+len(w.hub.users)+len(w.hub.state) != 0 {
			t.Fatalf("left behind: %d rooms, %d users, %d states", len(w.hub.rooms), len(w.hub.users), len(w.hub.state))
		}
	})
}

// settle waits until no group of h is subscribing, then checks every group
// is active with members.
func settle(t *testing.T, h *Hub) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.RLock()
		busy := false
		for _, groups := range []map[string]*group{h.rooms, h.users} {
			for name, g := range groups {
				switch {
				case g.state == subscribing:
					busy = true
				case g.state != active || len(g.members) == 0:
					h.mu.RUnlock()
					t.Fatalf("group %q: state %d, %d members", name, g.state, len(g.members))
				}
			}
		}
		h.mu.RUnlock()
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("groups still subscribing after 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
