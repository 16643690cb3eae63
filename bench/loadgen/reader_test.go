package main

import (
	"bytes"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

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
		r := &reader{conns: map[int32]*rconn{}, onData: func(i int, p []byte, _ int64) {
			got = append(got, bytes.Clone(p))
		}, onLost: func(err error) { lost = append(lost, err) }}
		rc := &rconn{i: 0, fd: fds[0]}
		r.conns[int32(fds[0])] = rc
		r.consume(rc, bytes.Clone(stream[:cut]), 0)
		r.consume(rc, bytes.Clone(stream[cut:]), 0)
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

// TestReaderHoldAndTimestamps runs a reader over real loopback TCP. A
// message sent while the reader is held is not read until the release,
// and is then timed by when the kernel received it, not by when it was
// read.
func TestReaderHoldAndTimestamps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	f, err := cc.(*net.TCPConn).File() // a duplicate descriptor
	cc.Close()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Dup(int(f.Fd()))
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	type msg struct {
		p      string
		rx, at int64
	}
	got := make(chan msg, 4)
	var released atomic.Int64 // unix ns of the release; 0 while held
	r, err := newReader(func(_ int, p []byte, rx int64) {
		got <- msg{string(p), rx, released.Load()}
	}, func(err error) { t.Errorf("lost: %v", err) })
	if err != nil {
		t.Fatal(err)
	}
	if err := r.adopt(0, fd, nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); r.run() }()
	defer func() { r.stop(); <-done }()

	send := func(p string) {
		b, _ := ws.CompileFrame(ws.NewTextFrame([]byte(p)))
		if _, err := sc.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	// Receive timestamps are switched on machine-wide a moment after the
	// first socket asks: wait (at most 5 s) for a stamped message.
	for deadline := time.Now().Add(5 * time.Second); ; {
		send("warm-up")
		if m := <-got; m.rx != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no receive timestamp after 5 s")
		}
	}

	r.control(ctlHold)
	before := time.Now().UnixNano()
	send("B 1 1")
	waitInQueue(t, fd, 7)
	after := time.Now().UnixNano()
	released.Store(time.Now().UnixNano())
	r.control(ctlRelease)
	m := <-got
	switch {
	case m.p != "B 1 1":
		t.Fatalf("got %q", m.p)
	case m.at == 0:
		t.Error("the message was read while the reader was held")
	case m.rx < before || m.rx > after:
		t.Errorf("stamped %d, want its arrival, in [%d, %d]", m.rx, before, after)
	}
}

// waitInQueue waits (at most 5 s) until fd's receive queue holds n bytes.
func waitInQueue(t *testing.T, fd, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; runtime.Gosched() {
		q, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		if q >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("receive queue holds %d bytes after 5 s, want %d", q, n)
		}
	}
}
