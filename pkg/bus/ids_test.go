package bus

import "testing"

func TestConnID(t *testing.T) {
	id := ConnID{Worker: WorkerID{Node: "web-1", PID: 4711}, Seq: 9}
	if s := id.String(); s != "web-1-4711-9" || s != id.Worker.ConnIDPrefix()+"9" {
		t.Fatalf("String = %q", s)
	}
	if got, err := ParseConnID("web-1-4711-9"); err != nil || got != id {
		t.Fatalf("ParseConnID = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "1-2", "-1-2", "n-0-1", "n-x-1", "n-1-x", "n-1-", "a.b-1-2", "*-1-2"} {
		if _, err := ParseConnID(bad); err == nil {
			t.Errorf("ParseConnID(%q) accepted", bad)
		}
	}
}

func TestTick(t *testing.T) {
	tk := Tick{Timer: 3, Seq: 1 << 40}
	if got, err := ParseTick(tk.String()); err != nil || got != tk {
		t.Fatalf("ParseTick(%q) = %+v, %v", tk.String(), got, err)
	}
	for _, bad := range []string{"", "1", "1:", ":1", "a:1", "1:b", "-1:2", "1:-2"} {
		if _, err := ParseTick(bad); err == nil {
			t.Errorf("ParseTick(%q) accepted", bad)
		}
	}
}

// FuzzParseConnID: whatever a backend puts in Wsfleet-Conn, the parser
// does not panic, and an id it accepts reads back the same from its string
// (so the subject it publishes to is that worker's).
func FuzzParseConnID(f *testing.F) {
	for _, s := range []string{"n-1-2", "web-1-4711-9", "a.b-1-2", "n-+1-2", "n-1-+2", "-1-2", "n-99999999999999999999-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseConnID(s)
		if err != nil {
			return
		}
		if ValidToken(id.Worker.Node) != nil || id.Worker.PID <= 0 {
			t.Fatalf("%q: accepted %+v", s, id)
		}
		if back, err := ParseConnID(id.String()); err != nil || back != id {
			t.Fatalf("%q: %+v reads back as %+v, %v", s, id, back, err)
		}
	})
}

// FuzzParseTick: whatever a Wsfleet-Tick holds, the parser does not panic,
// and a tick it accepts reads back the same from its string.
func FuzzParseTick(f *testing.F) {
	for _, s := range []string{"0:1", "12:345", "t:1", "+1:2", "1:+2", ":", "1:2:3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tk, err := ParseTick(s)
		if err != nil {
			return
		}
		if back, err := ParseTick(tk.String()); err != nil || back != tk {
			t.Fatalf("%q: %+v reads back as %+v, %v", s, tk, back, err)
		}
	})
}
