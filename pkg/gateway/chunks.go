package gateway

import "sync"

// chunks holds a message's bytes as they arrive, in pooled chunks: an
// unfinished message costs its size rounded up to a chunk (issue 10
// measured 2.1 times its size), and a message, however large, allocates
// nothing while it is kept (one buffer of its exact size when it is
// delivered, none when it fits one chunk).
//
// Allocating as messages arrive is what hurt the neighbours: on a busy
// machine, a poller allocating megabytes during a GC cycle is made to
// assist the collector and can be parked for as long as the cycle lasts,
// and every connection of the poller waits with it (a bystander's echo
// took 500 ms during a deflate bomb before the chunks were pooled).
type chunks struct {
	list []*[chunkSize]byte
	n    int // bytes held
}

// chunkSize is the pollers' read size (pollBufferSize).
const chunkSize = 64 << 10

var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

// len is the number of bytes held.
func (c *chunks) len() int { return c.n }

// write appends p.
func (c *chunks) write(p []byte) {
	for len(p) > 0 {
		k := copy(c.spare(), p)
		c.n += k
		p = p[k:]
	}
}

// spare is the free room of the last chunk, a new chunk when it is full;
// a reader fills it and calls grew.
func (c *chunks) spare() []byte {
	off := c.n % chunkSize
	if off == 0 && c.n/chunkSize == len(c.list) {
		c.list = append(c.list, chunkPool.Get().(*[chunkSize]byte))
	}
	return c.list[len(c.list)-1][off:]
}

// grew records k bytes written into spare.
func (c *chunks) grew(k int) { c.n += k }

// last is the bytes written last, k of them, in the last chunk.
func (c *chunks) last(k int) []byte {
	end := c.n - (len(c.list)-1)*chunkSize
	return c.list[len(c.list)-1][end-k : end]
}

// bytes returns the bytes held: the chunk itself when there is only one
// (valid until release), else one buffer of their exact size.
func (c *chunks) bytes() []byte {
	if len(c.list) == 1 {
		return c.list[0][:c.n]
	}
	out := make([]byte, 0, c.n)
	for i, ch := range c.list {
		out = append(out, ch[:min(chunkSize, c.n-i*chunkSize)]...)
	}
	return out
}

// release gives the chunks back to the pool.
func (c *chunks) release() {
	for i, ch := range c.list {
		chunkPool.Put(ch)
		c.list[i] = nil
	}
	c.list, c.n = nil, 0
}
