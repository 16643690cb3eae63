package bus

import (
	"reflect"
	"testing"

	"github.com/nats-io/nats.go"
)

// FuzzMessageOf feeds a backend's arbitrary header block (as NATS carries
// it, "NATS/1.0\r\nKey: value\r\n...\r\n\r\n") and payload to the decoders
// of the Wsfleet-* headers, messageOf and commandOf. Whatever the bytes:
//   - nothing panics;
//   - the message and the command each read back the same from their own
//     NATS form, so a worker and a backend agree on what a header means;
//   - a close code is a number or -1 (refused by name by the receiver), a
//     close carries the payload as its reason, and a command that is not a
//     close carries no code or reason.
//
// `go test -fuzz FuzzMessageOf ./pkg/bus` searches further.
func FuzzMessageOf(f *testing.F) {
	for _, h := range []string{
		"NATS/1.0\r\nWsfleet-Conn: n-1-2\r\nWsfleet-Join: lobby\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Conn: n-1-2\r\nWsfleet-Close: 4000\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Close: bye\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Close:\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Close: 99999999999999999999\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Op: binary\r\nWsfleet-Exclude: a-1-1\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Bind: ann\r\nWsfleet-Unbind: 1\r\nWsfleet-Leave: x\r\n\r\n",
		"NATS/1.0\r\nwsfleet-join: lower case\r\nWSFLEET-LEAVE: upper\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Join: a\r\nWsfleet-Join: b\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Tick: 1:2\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Tick: t:1\r\n\r\n",
		"NATS/1.0 503\r\n\r\n",
		"NATS/1.0\r\nWsfleet-Join: \xff\xfe\r\n\r\n",
		"",
	} {
		f.Add([]byte(h), []byte("payload"))
	}
	f.Fuzz(func(t *testing.T, header, data []byte) {
		var h nats.Header
		if len(header) > 0 {
			var err error
			if h, err = nats.DecodeHeadersMsg(header); err != nil {
				return // NATS itself refuses such a block
			}
		}
		nm := &nats.Msg{Header: h, Data: data}
		m, cmd, conn := messageOf(nm), commandOf(nm), connOf(nm)
		if cmd.Close && cmd.Code < -1 {
			// A negative number is read as it is: the receiver refuses it
			// as a code that may not be sent, like any other.
			t.Logf("negative close code %d", cmd.Code)
		}
		if !cmd.Close && (cmd.Code != 0 || cmd.Reason != "") {
			t.Fatalf("a close code %d or reason %q without a close", cmd.Code, cmd.Reason)
		}
		if cmd.Close && cmd.Reason != string(data) {
			t.Fatalf("close reason %q, payload %q", cmd.Reason, data)
		}
		if m.Tick != nil {
			if _, err := ParseTick(m.Tick.String()); err != nil {
				t.Fatalf("tick %+v does not read back: %v", *m.Tick, err)
			}
		}
		bm := m.natsMsg("wsfleet.conn.n.1", conn)
		if back := messageOf(bm); !reflect.DeepEqual(back, m) || connOf(bm) != conn || !commandOf(bm).empty() {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, back)
		}
		if cmd.empty() {
			return
		}
		bc := cmd.natsMsg("wsfleet.conn.n.1", conn)
		if back := commandOf(bc); back != cmd || connOf(bc) != conn {
			t.Fatalf("round trip changed the command:\n%+v\n%+v", cmd, back)
		}
	})
}
