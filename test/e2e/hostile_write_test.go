package e2e

// The hostile suite's write side (issue 10): clients that make the server
// queue output and do not read it, and one large message within
// -max-message. Each attack runs against a real cluster with the default
// flags and asserts, with the harness (hostile_harness_test.go), that no
// worker grows more than attackMemBound, that bystanders keep their echo
// round trips under bystanderRTTBound, and that the memory is given back.

import (
	"bytes"
	"context"
	bin "encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

const (
	// attackTime bounds how long each attack sends.
	attackTime = 8 * time.Second
	// writeTimeout is the gateway's: a client that takes no byte for that
	// long is cut.
	writeTimeout = 10 * time.Second
	// returnSlack is how far above its baseline a worker may stay once an
	// attack is over, and returnTimeout how long it may take to get there.
	// 8 MiB, below the +31 MiB a 10 MiB echo takes, so that the return is
	// measured (memtrim gives it back in about 5 s; the Go scavenger alone
	// kept 51 MiB for over 60 s).
	returnSlack   = 8 << 20
	returnTimeout = 60 * time.Second
)

// assertGivenBack asserts that the memory an attack took was given back,
// except with race binaries (WSFLEET_E2E_RACE=1): the race runtime's
// shadow memory, about twice what the heap grew, is never returned to the
// OS whatever the Go runtime does (measured: 100 MiB allocated and freed,
// FreeOSMemory: RSS 17 -> 326 -> 275 MiB with -race, 2 -> 106 -> 3 MiB
// without), so RSS cannot show it; the peak is still asserted.
func assertGivenBack(w *memWatch) {
	w.t.Helper()
	if os.Getenv("WSFLEET_E2E_RACE") == "1" {
		w.t.Log("race binaries: their shadow memory is never returned; return not measured")
		return
	}
	w.assertReturned(returnSlack, returnTimeout)
}

// hostileCluster starts a two-worker echo cluster with the default flags
// plus extra, and returns it with its workers' pids.
func hostileCluster(t *testing.T, extra ...string) (*cluster, []int) {
	t.Helper()
	c := startCluster(t, clusterOpts{count: 2, extra: extra})
	var pids []int
	for _, w := range c.status().Workers {
		pids = append(pids, w.PID)
	}
	return c, pids
}

// rawDial opens a WebSocket connection whose reading the test controls.
func rawDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dialer{}.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if br != nil {
		ws.PutReader(br)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// floodEvery paces an attacker's writes: one batch (1,000 pings, 128 KiB)
// every 2.5 ms is about 50 MiB/s, a flood from another host. Unpaced, the
// attacker in this process took a core of the two this suite's machine
// has, and the bystanders' round trips measured its scheduling, not the
// worker's. Before issue 10 this rate made a worker hold every pong.
const floodEvery = 2500 * time.Microsecond

// flood writes batches from next to conn, one per floodEvery, until d has
// passed, next returns nil, or a write fails (the server closed the
// attacker); each write may block for at most a second. It returns the
// bytes written.
func flood(conn net.Conn, d time.Duration, next func() []byte) (sent int64, err error) {
	deadline := time.Now().Add(d)
	pace := time.NewTicker(floodEvery)
	defer pace.Stop()
	for ; time.Now().Before(deadline); <-pace.C {
		b := next()
		if b == nil {
			return sent, nil
		}
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := conn.Write(b)
		sent += int64(n)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue // the server is not reading us: that is the defence
			}
			return sent, err
		}
	}
	return sent, nil
}

// pingBatch is 1,000 masked pings with the largest control payload.
func pingBatch() []byte {
	var buf bytes.Buffer
	p := make([]byte, 125)
	for i := range 1000 {
		bin.BigEndian.PutUint64(p, uint64(i))
		ws.WriteFrame(&buf, ws.MaskFrame(ws.NewPingFrame(p)))
	}
	return buf.Bytes()
}

// TestHostilePingFlood: one connection sends pings as fast as it can and
// never reads, or reads a trickle so that the write timeout never fires.
// Pongs fold once 64 KiB wait, so the worker holds one connection's worth
// of output (it grew 10 -> 823 MiB in 10 s, past 1.5 GiB with a trickle).
func TestHostilePingFlood(t *testing.T) {
	for _, trickle := range []bool{false, true} {
		t.Run(fmt.Sprintf("trickle=%v", trickle), func(t *testing.T) {
			c, pids := hostileCluster(t)
			by := startBystanders(t, c, 4)
			w := watchMemory(t, pids)
			conn := rawDial(t, c.addr)
			stop := make(chan struct{})
			readerDone := make(chan struct{})
			if trickle {
				go func() { // 4 KiB every 100 ms: progress, but far slower than the pongs
					defer close(readerDone)
					buf := make([]byte, 4<<10)
					tick := time.NewTicker(100 * time.Millisecond)
					defer tick.Stop()
					for {
						select {
						case <-stop:
							return
						case <-tick.C:
							conn.SetReadDeadline(time.Now().Add(time.Second))
							if _, err := conn.Read(buf); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
								return
							}
						}
					}
				}()
			} else {
				close(readerDone)
			}
			// The never-reader goes on past the write timeout (10 s), which
			// must cut it; the trickle-reader keeps taking bytes, so it is
			// not cut, and stops after attackTime.
			d := attackTime
			if !trickle {
				d = 3 * writeTimeout
			}
			batch := pingBatch()
			start := time.Now()
			sent, err := flood(conn, d, func() []byte { return batch })
			took := time.Since(start)
			close(stop)
			<-readerDone
			t.Logf("sent %d MiB of pings in %s (%v)", sent>>20, took.Round(time.Millisecond), err)
			if sent < 10<<20 {
				t.Errorf("only %d bytes of pings went out: the attack did not happen", sent)
			}
			if !trickle && err == nil {
				t.Errorf("a client that reads nothing was not cut within %s", d)
			}
			if trickle && err != nil {
				t.Errorf("a client that reads a trickle was cut: %v", err)
			}
			by.assertServed(bystanderRTTBound)
			w.assertPeakWithin(attackMemBound)
			conn.Close()
			assertGivenBack(w)
		})
	}
}

// TestHostileEchoNoRead: one connection sends 64 KiB echo requests and
// never reads the answers. The worker stops reading it once half its send
// buffer is queued, so its requests wait in the kernel; its writes stall.
func TestHostileEchoNoRead(t *testing.T) {
	c, pids := hostileCluster(t)
	by := startBystanders(t, c, 4)
	w := watchMemory(t, pids)
	conn := rawDial(t, c.addr)
	var frame bytes.Buffer
	ws.WriteFrame(&frame, ws.MaskFrame(ws.NewBinaryFrame(make([]byte, 64<<10))))
	const most = 4000 // 256 MiB: far more than the kernel's buffers hold
	n := 0
	sent, err := flood(conn, attackTime, func() []byte {
		if n++; n > most {
			return nil
		}
		return frame.Bytes()
	})
	t.Logf("sent %d MiB of requests (%v)", sent>>20, err)
	if sent >= most*int64(frame.Len()) {
		t.Errorf("all %d MiB were taken: the worker kept reading a client that reads nothing", sent>>20)
	}
	by.assertServed(bystanderRTTBound)
	w.assertPeakWithin(attackMemBound)
	conn.Close()
	assertGivenBack(w)
}

// TestHostileLargeEcho: with the default flags a 10 MiB message (the
// -max-message limit) is echoed whole to a client that reads; it was
// closed with 1008 "send buffer full".
// largeEchoStall bounds how long one 10 MiB echo may delay the bystanders of
// its worker (see TestHostileLargeEcho).
const largeEchoStall = 2 * time.Second

func TestHostileLargeEcho(t *testing.T) {
	c, pids := hostileCluster(t)
	by := startBystanders(t, c, 4)
	w := watchMemory(t, pids)
	conn := rawDial(t, c.addr)
	msg := bytes.Repeat([]byte("0123456789abcdef"), (10<<20)/16)
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	if err := wsutil.WriteClientBinary(conn, msg); err != nil {
		t.Fatalf("send: %v", err)
	}
	data, op, err := wsutil.ReadServerData(conn)
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	if op != ws.OpBinary || !bytes.Equal(data, append([]byte("hello "), msg...)) {
		t.Fatalf("echo: op %d, %d bytes, not hello + the message", op, len(data))
	}
	// A 10 MiB message is not an attack but the largest one the defaults
	// allow: its reading, the app's answer and the encoded frame each
	// fault in 10 MiB of fresh pages on the poller that serves the
	// bystanders, which stalled them 240-590 ms on this 2-core machine.
	// So this test bounds what a legitimate large message may cost the
	// others (every round trip answered, none stalled past largeEchoStall)
	// rather than holding it to the attacks' bystanderRTTBound; taking large
	// messages off the poller is still open (issue 10's note).
	by.assertServedWithin(largeEchoStall, largeEchoStall)
	bound := int64(attackMemBound)
	if os.Getenv("WSFLEET_E2E_RACE") == "1" {
		// The race runtime shadows each fresh allocation (measured +97 MiB
		// for this echo with race binaries, +31 MiB without).
		bound *= 2
	}
	w.assertPeakWithin(bound)
	wsutil.WriteClientMessage(conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	conn.Close()
	assertGivenBack(w)
}

// TestEchoPrefixAndMemoryLimit: -echo-prefix ” makes the echo app answer
// with the message alone, and -memory-limit reaches every worker.
func TestEchoPrefixAndMemoryLimit(t *testing.T) {
	c, _ := hostileCluster(t, "-echo-prefix", "", "-memory-limit", "300MiB")
	cl := c.dial()
	if err := cl.write(ws.OpText, []byte("as is")); err != nil {
		t.Fatal(err)
	}
	cl.expect("as is")
	for _, w := range c.status().Workers {
		if w.MemoryLimit != 300<<20 {
			t.Errorf("worker %d runs with a memory limit of %d bytes, want 300 MiB", w.PID, w.MemoryLimit)
		}
	}
}
