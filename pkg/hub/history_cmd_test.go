package hub

import "testing"

func TestParseSince(t *testing.T) {
	p, err := ParseSince("1041:9f2c")
	if err != nil || p.Offset != 1041 || p.Epoch != "9f2c" {
		t.Fatalf("got %+v, %v", p, err)
	}
	for _, bad := range []string{"", "1041", "x:e", "1:", "-1:e", ":e"} {
		if _, err := ParseSince(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
