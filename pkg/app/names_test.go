package app

import (
	"strings"
	"testing"
)

func TestChatName(t *testing.T) {
	cases := []struct {
		in, want string
		err      string // part of the error; "" accepts
	}{
		{"alice", "alice", ""},
		{"Zoë Ñandú", "Zoë Ñandú", ""},
		{"Zoe\u0308", "Zoë", ""}, // combining diaeresis: NFC composes it
		{"李小龍", "李小龍", ""},
		{"a b", "a b", ""},
		{"", "", "missing"},
		{strings.Repeat("x", 65), "", "longer than 64"},
		{strings.Repeat("é", 64), strings.Repeat("é", 64), ""}, // 64 characters, 128 bytes
		{"alice\u202eecila", "", "U+202E (RIGHT-TO-LEFT OVERRIDE)"},
		{"\u2066alice", "", "U+2066"},
		{"al\u200bice", "", "U+200B (ZERO WIDTH SPACE)"},
		{"al\u200dice", "", "U+200D"},
		{"\ufeffalice", "", "U+FEFF"},
		{"ali\x1b[31mce", "", "control character"},
		{"ali\nce", "", "control character"},
		{"ali\u00a0ce", "", "separator"},
		{"ali\u2028ce", "", "separator"},
		{" alice", "", "start or end with a space"},
		{"alice ", "", "start or end with a space"},
		{"\ue000", "", "private-use"},
		{"a\ufffdb", "", "invalid UTF-8"},
		{"\U000e0001", "", "U+E0001"}, // language tag: format
	}
	for _, tc := range cases {
		in := tc.in
		got, err := chatName("name", &in)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("chatName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("chatName(%q) = %q, %v; want an error with %q", tc.in, got, err, tc.err)
		}
	}
	if _, err := chatName("to", nil); err == nil || !strings.Contains(err.Error(), `"to"`) {
		t.Errorf("chatName(nil) = %v; want a missing field \"to\"", err)
	}
}
