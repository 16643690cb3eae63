package flagx

import (
	"strconv"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "1MiB": 1 << 20, "10mib": 10 << 20, "512KiB": 512 << 10, "2G": 2 << 30, "64 KB": 64 << 10, "7B": 7} {
		got, err := ParseSize(in)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "abc", "-1", "0", "1TiB0", "1.5MiB", "99999999GiB"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
	v := SizeValue(10 << 20)
	if v.String() != "10MiB" {
		t.Errorf("String() = %q", v.String())
	}
}

// FuzzParseSize: any text either fails with an error naming it or gives a
// size in (0, 1 TiB] that prints back as a value ParseSize reads the same.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4096", "1MiB", "10mib", "64 KB", "2G", "", "-1", "1.5MiB", "99999999GiB", "1KıB", "1099511627776"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("error %q does not name the input %q", err, s)
			}
			return
		}
		if n <= 0 || n > 1<<40 {
			t.Fatalf("ParseSize(%q) = %d, outside (0, 1 TiB]", s, n)
		}
		v := SizeValue(n)
		if back, err := ParseSize(v.String()); err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d prints as %q, which reads as %d, %v", s, n, v.String(), back, err)
		}
	})
}
