package app

import (
	"strings"
	"testing"
)

// valued is a Conn keeping its value.
type valued struct {
	sink
	v any
}

func (c *valued) Value() any     { return c.v }
func (c *valued) SetValue(v any) { c.v = v }

// TestHandoffers: the built-in apps carry what they keep, and refuse what
// they would never have kept.
func TestHandoffers(t *testing.T) {
	ch := NewChat()
	from := &valued{v: "ann"}
	b, err := ch.EncodeConn(from)
	if err != nil {
		t.Fatal(err)
	}
	to := &valued{}
	if err := ch.DecodeConn(to, b); err != nil || to.v != "ann" {
		t.Fatalf("chat name %v, %v", to.v, err)
	}
	if err := ch.DecodeConn(&valued{}, []byte{0xff}); err == nil {
		t.Error("chat took a name that is not UTF-8")
	}
	if err := ch.DecodeConn(&valued{}, []byte(strings.Repeat("a", maxHandedName+1))); err == nil {
		t.Error("chat took an overlong name")
	}
	if _, err := ch.EncodeConn(&valued{v: 42}); err == nil {
		t.Error("chat encoded a value it never sets")
	}
	for _, h := range []Handoffer{NewEcho(Config{}), NewPush(Config{})} {
		if b, err := h.EncodeConn(&valued{}); err != nil || b != nil {
			t.Errorf("%T: %q %v", h, b, err)
		}
		if err := h.DecodeConn(&valued{}, []byte("x")); err == nil {
			t.Errorf("%T took state it never keeps", h)
		}
	}
}
