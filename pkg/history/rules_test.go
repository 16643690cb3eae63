package history

import (
	"testing"
	"time"
)

func TestParseRules(t *testing.T) {
	rs, err := ParseRules(" lobby*=200,10m ; *=100,1h")
	if err != nil {
		t.Fatal(err)
	}
	want := Rules{{"lobby*", 200, 10 * time.Minute}, {"*", 100, time.Hour}}
	if len(rs) != 2 || rs[0] != want[0] || rs[1] != want[1] {
		t.Fatalf("got %+v, want %+v", rs, want)
	}
	if n, a := rs.limits(); n != 200 || a != time.Hour {
		t.Errorf("limits %d %s", n, a)
	}
	for _, off := range []string{"", "off"} {
		if rs, err := ParseRules(off); err != nil || rs != nil {
			t.Errorf("%q: %v %v", off, rs, err)
		}
	}
	for _, bad := range []string{"lobby", "=1,1m", "a=0,1m", "a=10001,1m", "a=1", "a=1,0s", "a=1,x", "a=x,1m", "a=1,1000h"} {
		if _, err := ParseRules(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pat, name string
		ok        bool
	}{
		{"*", "anything", true}, {"*", "", true}, {"lobby", "lobby", true}, {"lobby", "lobby2", false},
		{"lobby*", "lobby", true}, {"lobby*", "lobby-1", true}, {"lobby*", "xlobby", false},
		{"*-vip", "room-vip", true}, {"*-vip", "room-vipx", false}, {"a*b*c", "axxbyyc", true},
		{"a*b*c", "acb", false}, {"a*a", "a", false}, {"a*a", "aa", true},
	}
	for _, c := range cases {
		if got := glob(c.pat, c.name); got != c.ok {
			t.Errorf("glob(%q, %q) = %v", c.pat, c.name, got)
		}
	}
}

func TestMatchFirstWins(t *testing.T) {
	rs, _ := ParseRules("vip*=5,1m;*=100,1h")
	if r, ok := rs.Match("vip-1"); !ok || r.Count != 5 {
		t.Errorf("vip-1: %+v %v", r, ok)
	}
	if r, ok := rs.Match("other"); !ok || r.Count != 100 {
		t.Errorf("other: %+v %v", r, ok)
	}
	rs, _ = ParseRules("vip*=5,1m")
	if _, ok := rs.Match("other"); ok {
		t.Error("other matched")
	}
}
