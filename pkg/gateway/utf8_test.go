package gateway

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// naiveFirstBad is the oracle of utf8State: the length of the longest
// prefix of p that some bytes can still complete into valid UTF-8, tried
// by brute force over the continuation bytes at the edges of every range
// RFC 3629 allows; len(p) when p is valid or a valid message's start.
func naiveFirstBad(p []byte) int {
	edges := []byte{0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf}
	completable := func(q []byte) bool {
		if utf8.Valid(q) {
			return true
		}
		for _, a := range edges {
			if utf8.Valid(append(q[:len(q):len(q)], a)) {
				return true
			}
			for _, b := range edges {
				if utf8.Valid(append(q[:len(q):len(q)], a, b)) {
					return true
				}
				for _, c := range edges {
					if utf8.Valid(append(q[:len(q):len(q)], a, b, c)) {
						return true
					}
				}
			}
		}
		return false
	}
	for k := 1; k <= len(p); k++ {
		if !completable(p[:k]) {
			return k - 1
		}
	}
	return len(p)
}

// feedUTF8 feeds p in the given chunks and returns the index of the chunk
// that failed (-1: none) and whether the message was valid at its end.
func feedUTF8(p []byte, chunks []int) (failed int, valid bool) {
	var s utf8State
	for i, n := range chunks {
		if !s.feed(p[:n]) {
			return i, false
		}
		p = p[n:]
	}
	return -1, s.done()
}

// TestUTF8FailsAtTheFirstBadByte: however a text message is cut, it fails
// in the chunk holding the first byte after which no valid UTF-8 can
// follow (Autobahn 6.4.x), and is valid exactly when utf8.Valid says so.
func TestUTF8FailsAtTheFirstBadByte(t *testing.T) {
	cases := [][]byte{
		[]byte("κόσμε"), []byte("κόσμε\xf4\x90\x80\x80edited"), []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"),
		{0xf4, 0x8f, 0xbf, 0xbf}, {0xf4, 0x90}, {0xe0, 0x9f, 0x80}, {0xe0, 0xa0}, {0xed, 0xa0}, {0xed, 0x9f, 0xbf},
		{0xf0, 0x8f}, {0xf0, 0x90, 0x80}, {0xc0, 0x80}, {0xc2}, {0x80}, {0xff}, {'a', 0xe4, 0xbd}, []byte("你好"),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		p := make([]byte, 1+rng.IntN(12))
		for i := range p {
			p[i] = []byte{'a', 0x80, 0x9f, 0xa0, 0xbf, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xc0}[rng.IntN(13)]
		}
		cases = append(cases, p)
	}
	for _, p := range cases {
		bad := naiveFirstBad(p)
		for cut := 0; cut <= len(p); cut++ {
			// Two chunks, then byte by byte.
			for _, chunks := range [][]int{{cut, len(p) - cut}, ones(len(p))} {
				failed, valid := feedUTF8(p, chunks)
				if valid != utf8.Valid(p) {
					t.Fatalf("%x in %v: valid=%v, utf8.Valid says %v", p, chunks, valid, !valid)
				}
				wantChunk := -1
				if bad < len(p) {
					for i, end := 0, 0; i < len(chunks); i++ {
						end += chunks[i]
						if bad < end {
							wantChunk = i
							break
						}
					}
				}
				if failed != wantChunk {
					t.Fatalf("%x in %v: failed in chunk %d, want %d (first bad byte at %d)", p, chunks, failed, wantChunk, bad)
				}
			}
		}
	}
}

func ones(n int) []int {
	o := make([]int, n)
	for i := range o {
		o[i] = 1
	}
	return o
}
