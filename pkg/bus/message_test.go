package bus

import (
	"testing"

	"github.com/nats-io/nats.go"
)

// TestMessageOfClose: how a Wsfleet-Close header reads, whatever a backend
// put in it. An empty value is a close with no code (1000 is sent); a value
// that is not a number is -1, which the receiver refuses by name.
func TestMessageOfClose(t *testing.T) {
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
		m := messageOf(&nats.Msg{Header: c.header, Data: []byte("why")})
		if m.Close != c.close || m.CloseCode != c.code {
			t.Errorf("%s: Close %v, CloseCode %d; want %v, %d", c.name, m.Close, m.CloseCode, c.close, c.code)
		}
	}
	// A message round-trips through its NATS form.
	in := Message{Conn: "n-1-2", Close: true, CloseCode: 4002, Data: []byte("kicked")}
	if out := messageOf(in.natsMsg("s")); out.Conn != in.Conn || !out.Close || out.CloseCode != 4002 || string(out.Data) != "kicked" {
		t.Errorf("round trip: %+v", out)
	}
}
