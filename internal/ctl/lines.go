package ctl

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
)

// maxLine bounds one control line in either direction. An answer of any
// size fits: a Stream's items travel chunkSize bytes at a time.
const maxLine = 1 << 20

// chunkSize is about how many bytes of a Stream's items go in one line.
const chunkSize = 64 << 10

// headKeep is how much of an oversized line is kept: enough to find its id
// (the envelope's first field), so that the request it belongs to gets an
// error instead of the connection ending.
const headKeep = 64

// lineReader reads newline-terminated lines of at most max bytes. A longer
// line is read to its end and returned cut to its first headKeep bytes with
// tooLong set, so one bad line costs one request, not the connection.
type lineReader struct {
	br  *bufio.Reader
	max int
	buf []byte
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its newline; the slice is valid until
// the following call. A partial line at the end of the stream is dropped.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	n := 0
	for {
		frag, err := l.br.ReadSlice('\n')
		n += len(frag)
		switch {
		case n <= l.max:
			l.buf = append(l.buf, frag...)
		case len(l.buf) < headKeep:
			l.buf = append(l.buf, frag[:min(len(frag), headKeep-len(l.buf))]...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			return nil, false, err
		}
		if n > l.max {
			return l.buf, true, nil
		}
		return bytes.TrimSuffix(l.buf, []byte{'\n'}), false, nil
	}
}

// idOf finds the id of a line that could not be decoded, or 0. Envelopes
// are marshalled with the id first: {"id":42,...}.
func idOf(line []byte) uint64 {
	rest, ok := bytes.CutPrefix(line, []byte(`{"id":`))
	if !ok {
		return 0
	}
	end := 0
	for end < len(rest) && rest[end] >= '0' && rest[end] <= '9' {
		end++
	}
	id, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	if err != nil {
		return 0
	}
	return id
}
