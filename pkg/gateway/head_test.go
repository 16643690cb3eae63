package gateway

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/iotest"
)

// headCases: what a client sends, and the status readHead refuses it with
// (0: a head it accepts, of len(want) bytes when want is set).
var headCases = []struct {
	name   string
	in     string
	status int
	head   string // the accepted head when in has bytes behind it
}{
	{"get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 0, ""},
	{"head", "HEAD /a HTTP/1.0\r\n\r\n", 0, ""},
	{"frames behind", "GET / HTTP/1.1\r\nHost: x\r\n\r\n\x81\x80abcd", 0, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"16 KiB cookie", "GET / HTTP/1.1\r\nCookie: " + strings.Repeat("c", 16<<10) + "\r\n\r\n", 0, ""},
	{"tls client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", http.StatusBadRequest, ""},
	{"garbage", "hello there\r\n\r\n", http.StatusBadRequest, ""},
	{"binary", "\x00\x01\x02\x03", http.StatusBadRequest, ""},
	{"leading space", " GET / HTTP/1.1\r\n\r\n", http.StatusBadRequest, ""},
	{"bare lf request", "GET / HTTP/1.1\nHost: x\n\n", http.StatusBadRequest, ""},
	{"bare lf header", "GET / HTTP/1.1\r\nHost: x\n\r\n", http.StatusBadRequest, ""},
	{"bare cr", "GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n", http.StatusBadRequest, ""},
	{"nul", "GET / HTTP/1.1\r\nHost: \x00\r\n\r\n", http.StatusBadRequest, ""},
	{"post", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", http.StatusMethodNotAllowed, ""},
	{"connect", "CONNECT x:443 HTTP/1.1\r\n\r\n", http.StatusMethodNotAllowed, ""},
	{"long method", strings.Repeat("G", 40) + " / HTTP/1.1\r\n\r\n", http.StatusBadRequest, ""},
	{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", http.StatusBadRequest, ""},
	{"http/0.9", "GET /\r\n\r\n", http.StatusBadRequest, ""},
	{"space in target", "GET /a b HTTP/1.1\r\n\r\n", http.StatusBadRequest, ""},
	{"head too large", "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 40<<10) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge, ""},
	{"request line too long", "GET /" + strings.Repeat("a", 40<<10) + " HTTP/1.1\r\n\r\n", http.StatusRequestURITooLong, ""},
	{"cut short", "GET / HTTP/1.1\r\nHost", http.StatusBadRequest, ""},
}

// TestReadHead reads every case whole and one byte at a time: the checks
// made as bytes arrive must agree with the checks made on all of them.
func TestReadHead(t *testing.T) {
	for _, tc := range headCases {
		for _, r := range []struct {
			name string
			r    func(string) io.Reader
		}{
			{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
			{"bytewise", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
		} {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				h, err := readHead(r.r(tc.in), 32<<10)
				var he *headError
				switch {
				case tc.status == 0 && err != nil:
					t.Fatalf("refused: %v", err)
				case tc.status == 0:
					want := tc.head
					if want == "" {
						want = tc.in
					}
					// A bytewise read stops at the head's end; a whole one
					// keeps what followed.
					if string(h.bytes()) != want || !strings.HasPrefix(tc.in[len(want):], string(h.rest())) {
						t.Fatalf("head %q rest %q", h.bytes(), h.rest())
					}
					h.release()
				case !errors.As(err, &he):
					t.Fatalf("err = %v, want a %d", err, tc.status)
				case he.status != tc.status:
					t.Fatalf("status %d (%s), want %d", he.status, he.why, tc.status)
				}
			})
		}
	}
}

// TestReadHeadEOF: a client that sends nothing and leaves is no request.
func TestReadHeadEOF(t *testing.T) {
	if _, err := readHead(strings.NewReader(""), 1<<10); !errors.Is(err, io.EOF) {
		t.Fatalf("err = %v, want EOF", err)
	}
}

// BenchmarkReadHead reads the accepted heads of headCases, whole: the cost
// of the checks made on every request.
func BenchmarkReadHead(b *testing.B) {
	for _, tc := range headCases {
		if tc.status != 0 {
			continue
		}
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(tc.in)))
			b.ReportAllocs()
			for b.Loop() {
				h, err := readHead(strings.NewReader(tc.in), 32<<10)
				if err != nil {
					b.Fatal(err)
				}
				h.release()
			}
		})
	}
}

// BenchmarkRefusal is the answer written to every refused connection.
func BenchmarkRefusal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		refusal(http.StatusTooManyRequests)
	}
}
