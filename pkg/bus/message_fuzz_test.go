package bus

import (
	"reflect"
	"testing"

	"github.com/nats-io/nats.go"
)

// FuzzMessageOf feeds a backend's arbitrary header block (as NATS carries
// it, "NATS/1.0\r\nKey: value\r\n...\r\n\r\n") and payload to the parser of
// the Wsfleet-* headers. Whatever the bytes:
//   - nothing panics;
//   - the message reads back the same from its own NATS form, so a worker
//     and a backend agree on what a header means;
//   - a close code is a number or -1 (refused by name by the receiver), a
//     message with a command is a command, and a plain message carries no
//     command.
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
		m := messageOf(&nats.Msg{Header: h, Data: data})
		if m.Close && m.CloseCode < -1 {
			// A negative number is read as it is: the receiver refuses it
			// as a code that may not be sent, like any other.
			t.Logf("negative close code %d", m.CloseCode)
		}
		if !m.Close && m.CloseCode != 0 {
			t.Fatalf("a close code %d without a close", m.CloseCode)
		}
		if m.IsCommand() != (m.Close || m.Join != "" || m.Leave != "" || m.Bind != "" || m.Unbind) {
			t.Fatal("IsCommand disagrees with the fields")
		}
		back := messageOf(m.natsMsg("wsfleet.conn.n.1"))
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, back)
		}
	})
}
