package gateway

import (
	"bytes"
	"testing"
)

// TestChunks: what is written comes back whole, whatever the sizes and
// however it was written (write, or spare and grew).
func TestChunks(t *testing.T) {
	for _, sizes := range [][]int{{0}, {1}, {chunkSize}, {chunkSize - 1, 2}, {100, chunkSize, 3 * chunkSize, 7}} {
		var c chunks
		var want []byte
		for i, n := range sizes {
			p := bytes.Repeat([]byte{byte('a' + i)}, n)
			want = append(want, p...)
			if i%2 == 0 {
				c.write(p)
				continue
			}
			for len(p) > 0 { // as the inflater fills it
				k := copy(c.spare(), p)
				c.grew(k)
				if !bytes.Equal(c.last(k), p[:k]) {
					t.Fatalf("%v: last(%d) differs", sizes, k)
				}
				p = p[k:]
			}
		}
		if c.len() != len(want) || !bytes.Equal(c.bytes(), want) {
			t.Fatalf("%v: got %d bytes back, want %d", sizes, c.len(), len(want))
		}
		if len(c.list) > (len(want)+chunkSize-1)/chunkSize+1 {
			t.Fatalf("%v: %d chunks for %d bytes", sizes, len(c.list), len(want))
		}
		c.release()
		if c.len() != 0 || c.list != nil {
			t.Fatal("release kept chunks")
		}
	}
}
