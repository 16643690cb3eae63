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
	want := Rules{{"lobby*", 200, 10 * time.Minute, false}, {"*", 100, time.Hour, false}}
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
	for _, bad := range []string{"lobby", "=1,1m", "a=0,1m", "a=10001,1m", "a=1", "a=1,0s", "a=1,x", "a=x,1m", "a=1,1000h", "@=1,1m"} {
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

// TestUserRules: a pattern with a leading '@' is for users; rooms and
// users never match each other's rules, a room named "@x" included.
func TestUserRules(t *testing.T) {
	rs, err := ParseRules("vip*=500,1h;@*=50,24h;*=100,1h")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := rs.MatchUser("bob"); !ok || r.Count != 50 || r.Age != 24*time.Hour || r.Pattern != "*" || !r.User {
		t.Errorf("user bob: %+v %v", r, ok)
	}
	if r, ok := rs.MatchUser("vip1"); !ok || r.Count != 50 {
		t.Errorf("user vip1 took a room rule: %+v %v", r, ok)
	}
	if r, ok := rs.Match("@bob"); !ok || r.Count != 100 || r.User {
		t.Errorf("room @bob: %+v %v", r, ok)
	}
	if n, a := rs.limits(); n != 500 || a != 24*time.Hour {
		t.Errorf("limits %d %s: the users' rules count too", n, a)
	}
	rooms, _ := ParseRules("*=100,1h")
	if _, ok := rooms.MatchUser("bob"); ok {
		t.Error("a room rule matched a user")
	}
}
