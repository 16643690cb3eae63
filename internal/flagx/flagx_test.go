package flagx

import "testing"

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
