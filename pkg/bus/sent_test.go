package bus

import (
	"testing"
	"time"
)

// TestSentHeader: a stamped broadcast carries its publication time in
// HeaderSent to the receiver; an unstamped one carries none, and a header
// that is no positive number is ignored.
func TestSentHeader(t *testing.T) {
	before := time.Now()
	m := stamped(Message{Data: []byte("x")})
	if m.Sent.Before(before) {
		t.Fatalf("stamped at %v, before %v", m.Sent, before)
	}
	got := messageOf(m.natsMsg("s", ""))
	if !got.Sent.Equal(time.Unix(0, m.Sent.UnixNano())) {
		t.Fatalf("received Sent %v, want %v", got.Sent, m.Sent)
	}
	if again := stamped(m); !again.Sent.Equal(m.Sent) {
		t.Fatal("a stamp was overwritten")
	}
	if nm := (Message{Data: []byte("x")}).natsMsg("s", ""); nm.Header != nil || !messageOf(nm).Sent.IsZero() {
		t.Fatalf("unstamped message: header %v", nm.Header)
	}
	for _, v := range []string{"soon", "-5", "0"} {
		nm := (Message{Binary: true}).natsMsg("s", "")
		nm.Header.Set(HeaderSent, v)
		if s := messageOf(nm).Sent; !s.IsZero() {
			t.Errorf("header %q read as %v", v, s)
		}
	}
}
