package worker

import (
	"encoding/json"
	"testing"
)

// TestDecodeHanded: a handed connection's worker state is checked: its
// version, its rooms' count; anything else is refused.
func TestDecodeHanded(t *testing.T) {
	good, _ := json.Marshal(handedConn{V: handedVersion, User: "ann", Rooms: []string{"a", "b"}, App: []byte("x")})
	hc, err := decodeHanded(good, 2)
	if err != nil || hc.User != "ann" || len(hc.Rooms) != 2 || string(hc.App) != "x" {
		t.Fatalf("%+v %v", hc, err)
	}
	for name, b := range map[string][]byte{
		"too many rooms": good,
		"version":        []byte(`{"v":2}`),
		"not JSON":       []byte(`{`),
		"wrong types":    []byte(`{"v":1,"rooms":"a"}`),
	} {
		if _, err := decodeHanded(b, 1); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
