package gateway

import (
	"net/netip"
	"strings"
	"testing"
)

// realIPCases: the forwarding headers of one request, and the address
// resolve must find (empty: none, the peer's is used). The trusted proxies
// are 10.0.0.0/8 and 127.0.0.1.
var realIPCases = []struct {
	name   string
	header [][2]string
	want   string
}{
	{"none", nil, ""},
	{"xff one", [][2]string{{"X-Forwarded-For", "203.0.113.7"}}, "203.0.113.7"},
	{"xff right-most wins over a forged left", [][2]string{{"X-Forwarded-For", "1.1.1.1, 203.0.113.7"}}, "203.0.113.7"},
	{"xff skips our own proxies", [][2]string{{"X-Forwarded-For", "1.1.1.1, 203.0.113.7, 10.1.2.3, 127.0.0.1"}}, "203.0.113.7"},
	{"xff all proxies: the left-most", [][2]string{{"X-Forwarded-For", "10.0.0.9, 10.1.2.3"}}, "10.0.0.9"},
	{"xff over two lines", [][2]string{{"X-Forwarded-For", "1.1.1.1"}, {"x-forwarded-for", "203.0.113.8, 10.0.0.1"}}, "203.0.113.8"},
	{"xff wins over x-real-ip", [][2]string{{"X-Real-IP", "198.51.100.1"}, {"X-Forwarded-For", "203.0.113.7"}}, "203.0.113.7"},
	{"x-real-ip alone", [][2]string{{"X-Real-IP", " 198.51.100.1 "}}, "198.51.100.1"},
	{"ipv6", [][2]string{{"X-Forwarded-For", "2001:db8::1"}}, "2001:db8::1"},
	{"ipv4-mapped ipv6", [][2]string{{"X-Real-IP", "::ffff:203.0.113.9"}}, "203.0.113.9"},
	{"xff with a port", [][2]string{{"X-Forwarded-For", "203.0.113.7:4711"}}, ""},
	{"xff bracketed ipv6", [][2]string{{"X-Forwarded-For", "[2001:db8::1]"}}, ""},
	{"xff zone", [][2]string{{"X-Forwarded-For", "fe80::1%eth0"}}, ""},
	{"xff a name", [][2]string{{"X-Forwarded-For", "localhost"}}, ""},
	{"xff empty entry", [][2]string{{"X-Forwarded-For", "1.1.1.1,"}}, ""},
	{"xff escape codes", [][2]string{{"X-Forwarded-For", "\x1b[2J\x1b[31mpwned"}}, ""},
	{"xff bad right-most, good left: not trusted", [][2]string{{"X-Forwarded-For", "1.1.1.1, junk"}}, ""},
	{"bad xff does not fall back to x-real-ip", [][2]string{{"X-Forwarded-For", "junk"}, {"X-Real-IP", "198.51.100.1"}}, ""},
	{"x-real-ip escape codes", [][2]string{{"X-Real-IP", "1.2.3.4\x1b[0m"}}, ""},
	{"x-real-ip too long", [][2]string{{"X-Real-IP", strings.Repeat("1", 100)}}, ""},
}

func TestRealIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}
	trusted := func(ip netip.Addr) bool {
		for _, p := range proxies {
			if p.Contains(ip) {
				return true
			}
		}
		return false
	}
	for _, tc := range realIPCases {
		t.Run(tc.name, func(t *testing.T) {
			var f forwardedFor
			for _, h := range tc.header {
				f.add([]byte(h[0]), []byte(h[1]))
			}
			ip, ok := f.resolve(trusted)
			got := ""
			if ok {
				got = ip.String()
			}
			if got != tc.want {
				t.Fatalf("resolve = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLimitKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::",
		"2001:db8:1:2::9":      "2001:db8:1:2::",
		"fe80::1%eth0":         "fe80::",
	} {
		if got := limitKey(netip.MustParseAddr(in)).String(); got != want {
			t.Errorf("limitKey(%s) = %s, want %s", in, got, want)
		}
	}
}
