package worker

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsfleet/wsfleet/pkg/hub"
)

// TestDecodeHanded: a handed connection's worker state is checked: its
// version, its rooms' count, its cuts (only streams it gets messages on,
// bounded); anything else is refused.
func TestDecodeHanded(t *testing.T) {
	good, _ := json.Marshal(handedConn{V: handedVersion, User: "ann", Rooms: []string{"a", "b"}, App: []byte("x"),
		Cuts: hub.Cuts{hub.StreamAll: {"p": 3}, hub.RoomStream("a"): {hub.CutOffset: 9}, hub.UserStream("ann"): {}}})
	hc, err := decodeHanded(good, 2)
	if err != nil || hc.User != "ann" || len(hc.Rooms) != 2 || string(hc.App) != "x" || hc.Cuts[hub.StreamAll]["p"] != 3 {
		t.Fatalf("%+v %v", hc, err)
	}
	many := hub.Cut{}
	for i := range hub.MaxCutPublishers + 2 {
		many[strings.Repeat("p", i+1)] = 1
	}
	bad := func(hc handedConn) []byte {
		hc.V = handedVersion
		b, _ := json.Marshal(hc)
		return b
	}
	for name, b := range map[string][]byte{
		"too many rooms":     good,
		"version 1":          []byte(`{"v":1}`),
		"not JSON":           []byte(`{`),
		"wrong types":        []byte(`{"v":2,"rooms":"a"}`),
		"another room's cut": bad(handedConn{Rooms: []string{"a"}, Cuts: hub.Cuts{hub.RoomStream("z"): {}}}),
		"too many pubs":      bad(handedConn{Cuts: hub.Cuts{hub.StreamAll: many}}),
		"long publisher":     bad(handedConn{Cuts: hub.Cuts{hub.StreamAll: {strings.Repeat("p", 33): 1}}}),
		"empty publisher":    bad(handedConn{Cuts: hub.Cuts{hub.StreamAll: {"": 1}}}),
	} {
		if _, err := decodeHanded(b, 1); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzDecodeHanded: no input makes the decoder fail other than with an
// error, and what it accepts stays within its bounds.
func FuzzDecodeHanded(f *testing.F) {
	f.Add([]byte(`{"v":2,"user":"u","rooms":["a"],"cuts":{"all":{"p":1},"r:a":{"#":4}}}`))
	f.Add([]byte(`{"v":2,"cuts":{"conn":{}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		hc, err := decodeHanded(b, 4)
		if err != nil {
			return
		}
		if len(hc.Rooms) > 4 || len(hc.Cuts) > len(hc.Rooms)+3 {
			t.Fatalf("accepted %d rooms, %d cuts", len(hc.Rooms), len(hc.Cuts))
		}
		for _, cut := range hc.Cuts {
			if len(cut) > hub.MaxCutPublishers+1 {
				t.Fatalf("accepted a cut of %d", len(cut))
			}
		}
	})
}
