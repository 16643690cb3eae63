package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersionOf(t *testing.T) {
	for _, c := range []struct {
		stamp    string
		settings map[string]string
		want     string
	}{
		{"v1.2.3-4-gabc", map[string]string{"vcs.revision": "ffff"}, "v1.2.3-4-gabc"},
		{"", map[string]string{"vcs.revision": "0123456789abcdef", "vcs.modified": "true"}, "devel 0123456789ab-dirty"},
		{"", map[string]string{"vcs.revision": "0123", "vcs.modified": "false"}, "devel 0123"},
		{"", nil, "devel"},
	} {
		if got := versionOf(c.stamp, c.settings); got != c.want {
			t.Errorf("versionOf(%q, %v) = %q, want %q", c.stamp, c.settings, got, c.want)
		}
	}
}

func TestGet(t *testing.T) {
	b := Get()
	if b.GoVersion != runtime.Version() || !strings.HasPrefix(b.Version, "devel") {
		t.Fatalf("%+v", b)
	}
	if !strings.Contains(b.String(), runtime.GOOS) {
		t.Fatal(b.String())
	}
}
