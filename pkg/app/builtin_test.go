package app

import (
	"testing"
)

// sink is a Conn that keeps what is sent to it.
type sink struct {
	sent []Message
}

func (*sink) ID() string             { return "c1" }
func (*sink) RemoteAddr() string     { return "127.0.0.1:1" }
func (s *sink) Send(m Message) error { s.sent = append(s.sent, m); return nil }
func (*sink) Close(int, string)      {}
func (*sink) Value() any             { return nil }
func (*sink) SetValue(any)           {}
func (*sink) Handshake() *Handshake  { return nil }

// TestEchoPrefix: the echo app answers with its prefix ("hello " unless
// Config says otherwise, "" for none), text for text, binary for binary.
func TestEchoPrefix(t *testing.T) {
	empty, custom := "", "> "
	for _, tc := range []struct {
		prefix *string
		want   string
	}{{nil, "hello hi"}, {&empty, "hi"}, {&custom, "> hi"}} {
		a, err := New("echo", Config{EchoPrefix: tc.prefix})
		if err != nil {
			t.Fatal(err)
		}
		for _, binary := range []bool{false, true} {
			c := &sink{}
			a.OnMessage(c, Message{Binary: binary, Data: []byte("hi")})
			if len(c.sent) != 1 || string(c.sent[0].Data) != tc.want || c.sent[0].Binary != binary {
				t.Errorf("prefix %v binary %v: sent %+v, want %q", tc.prefix, binary, c.sent, tc.want)
			}
		}
	}
}
