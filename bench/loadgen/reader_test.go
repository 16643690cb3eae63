package main

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// TestReaderConsumesSplitFrames feeds the reader a server's frames (a
// short and a 16-bit-length message, a ping between them) cut at every
// byte: each message arrives once and whole, and the ping is answered
// with a masked pong.
func TestReaderConsumesSplitFrames(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 300)
	var stream []byte
	for _, f := range []ws.Frame{ws.NewTextFrame([]byte("B 1 2")), ws.NewPingFrame([]byte("p")), ws.NewBinaryFrame(long)} {
		b, err := ws.CompileFrame(f)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	for cut := 0; cut <= len(stream); cut++ {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		var lost []error
		r := &reader{conns: map[int32]*rconn{}, onData: func(i int, p []byte) {
			got = append(got, bytes.Clone(p))
		}, onLost: func(err error) { lost = append(lost, err) }}
		rc := &rconn{i: 0, fd: fds[0]}
		r.conns[int32(fds[0])] = rc
		r.consume(rc, bytes.Clone(stream[:cut]))
		r.consume(rc, bytes.Clone(stream[cut:]))
		if len(got) != 2 || string(got[0]) != "B 1 2" || !bytes.Equal(got[1], long) || len(lost) != 0 || len(rc.pend) != 0 {
			t.Fatalf("cut at %d: got %d messages, lost %v, %d bytes pending", cut, len(got), lost, len(rc.pend))
		}
		pong := make([]byte, 64)
		n, err := unix.Read(fds[1], pong)
		if err != nil {
			t.Fatal(err)
		}
		pr := bytes.NewReader(pong[:n])
		h, err := ws.ReadHeader(pr)
		if err != nil || h.OpCode != ws.OpPong || !h.Masked || h.Length != 1 {
			t.Fatalf("cut at %d: answer %+v (%v), want a masked pong", cut, h, err)
		}
		p := pong[n-pr.Len() : n]
		ws.Cipher(p, h.Mask, 0)
		if string(p) != "p" {
			t.Fatalf("cut at %d: pong payload %q", cut, p)
		}
		unix.Close(fds[0])
		unix.Close(fds[1])
	}
}
