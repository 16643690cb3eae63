package e2e

// The hostile suite's read-side attacks (issue 10): what a client can make
// a worker hold or spend by what it sends. Each runs against a one-worker
// cluster, so the attackers and the bystanders share that worker (and its
// poller), with the harness of hostile_harness_test.go.

import (
	"bytes"
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// dialAttacker opens a WebSocket connection for an attacker that writes its
// own bytes, offering permessage-deflate when deflate is set. The test's
// cleanup closes it.
func dialAttacker(t *testing.T, addr string, deflate bool) net.Conn {
	t.Helper()
	conn, err := tryDialAttacker(addr, deflate)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// tryDialAttacker is dialAttacker without a test, for other goroutines; the caller
// closes the connection.
func tryDialAttacker(addr string, deflate bool) (net.Conn, error) {
	d := ws.Dialer{}
	if deflate {
		d.Extensions = []httphead.Option{{Name: []byte("permessage-deflate")}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, hs, err := d.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		return nil, fmt.Errorf("attacker dial: %w", err)
	}
	if br != nil {
		ws.PutReader(br)
	}
	if deflate && len(hs.Extensions) == 0 {
		conn.Close()
		return nil, errors.New("attacker: permessage-deflate not negotiated")
	}
	return conn, nil
}

// waitRead waits until the worker has read at least want(i) bytes from
// each of conns, by `connections -json`'s bytes_in: the attack is in the
// worker, not in a socket buffer.
func waitRead(t *testing.T, c *cluster, conns []net.Conn, want func(i int) int64) {
	t.Helper()
	waitFor(t, 60*time.Second, func() error {
		cs, err := queryConnections(c.pidFile)
		if err != nil {
			return err
		}
		in := make(map[string]int64, len(cs.Connections))
		for _, cj := range cs.Connections {
			in[cj.Remote] = cj.BytesIn
		}
		for i, conn := range conns {
			if got := in[conn.LocalAddr().String()]; got < want(i) {
				return fmt.Errorf("attacker %d: worker read %d of %d bytes", i, got, want(i))
			}
		}
		return nil
	})
}

// pingSync sends a ping on conn and reads until its pong: the worker has
// read everything sent before it.
func pingSync(conn net.Conn) error {
	b, err := ws.CompileFrame(ws.MaskFrame(ws.NewPingFrame([]byte("sync"))))
	if err != nil {
		return err
	}
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	defer conn.SetDeadline(time.Time{})
	if _, err := conn.Write(b); err != nil {
		return err
	}
	for {
		f, err := ws.ReadFrame(conn)
		if err != nil {
			return fmt.Errorf("waiting for the pong: %w", err)
		}
		switch f.Header.OpCode {
		case ws.OpPong:
			return nil
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			return fmt.Errorf("closed with %d %q instead of a pong", code, reason)
		}
	}
}

// waitTrips waits until the bystanders made n more round trips, so that
// they were served while the attack was held, not only before it.
func waitTrips(t *testing.T, b *bystanders, n int) {
	t.Helper()
	target := b.trips() + n
	waitFor(t, 60*time.Second, func() error {
		b.mu.Lock()
		defer b.mu.Unlock()
		if len(b.rtts) < target || len(b.failures) > 0 {
			return fmt.Errorf("bystanders at %d trips of %d, %d failures", len(b.rtts), target, len(b.failures))
		}
		return nil
	})
}

// workerPID is the pid of a one-worker cluster's worker.
func workerPID(t *testing.T, c *cluster) int {
	t.Helper()
	ws := c.status().Workers
	if len(ws) != 1 {
		t.Fatalf("%d workers, want 1", len(ws))
	}
	return ws[0].PID
}

// rawHeader is a masked frame header announcing n payload bytes.
func rawHeader(op ws.OpCode, fin bool, n int64) []byte {
	h := ws.Header{Fin: fin, OpCode: op, Length: n, Masked: true, Mask: ws.NewMask()}
	var b bytes.Buffer
	ws.WriteHeader(&b, h) // a bytes.Buffer cannot fail
	return b.Bytes()
}

// TestHostileHeaderOnlyFrames: 400 connections each send the 14-byte
// header of a 10 MiB frame and nothing more (issue 10 measured +478 MiB,
// kept after they closed). A payload is kept as it arrives, so the headers
// cost the worker next to nothing.
func TestHostileHeaderOnlyFrames(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 1})
	pid := workerPID(t, c)
	// The connections first: what they cost idle is not the attack (and
	// 400 handshakes are the door's business, not the frame reader's).
	conns := make([]net.Conn, 400)
	for i := range conns {
		conns[i] = dialAttacker(t, c.addr, false)
	}
	mem := watchMemory(t, []int{pid})

	hdr := rawHeader(ws.OpBinary, true, 10<<20)
	for i, conn := range conns {
		if _, err := conn.Write(hdr); err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
	}
	// The CLI that tells what the worker read takes seconds of CPU under
	// the race detector, which alone delays echoes on a two-core machine:
	// the bystanders start once it is done, and are served while the
	// headers are held.
	waitRead(t, c, conns, func(int) int64 { return int64(len(hdr)) })
	by := startBystanders(t, c, 2)
	waitTrips(t, by, 100)

	mem.assertPeakWithin(attackMemBound)
	// Beyond the suite's bound: the headers cost a few MiB at most,
	// nothing near what they announce (4000 MiB).
	const headerOnlyBound = 16 << 20
	if g := mem.growth()[pid]; g > headerOnlyBound {
		t.Errorf("400 header-only frames grew the worker %.1f MiB, over %d MiB", float64(g)/(1<<20), headerOnlyBound>>20)
	}
	by.assertServed(bystanderRTTBound)
	for _, conn := range conns {
		conn.Close()
	}
	mem.assertReturned(headerOnlyBound, 30*time.Second)
}

// TestHostileUnfinishedFragments: connections each send 6 MiB of a
// fragmented message and never its final fragment. The worker keeps them
// at about their size (issue 10 measured 2.1 times), within the suite's
// bound, and serves the bystanders meanwhile.
func TestHostileUnfinishedFragments(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 1})
	pid := workerPID(t, c)
	const attackers, fragments, fragSize = 4, 6, 1 << 20
	// The attack's bytes are built before the bystanders' clock starts:
	// masking 6 MiB is seconds of the test's CPU under the race detector.
	var attack []byte
	for k := range fragments {
		op := ws.OpContinuation
		if k == 0 {
			op = ws.OpBinary
		}
		b, err := ws.CompileFrame(ws.MaskFrame(ws.NewFrame(op, false, bytes.Repeat([]byte{byte(k)}, fragSize))))
		if err != nil {
			t.Fatal(err)
		}
		attack = append(attack, b...)
	}
	by := startBystanders(t, c, 2)
	mem := watchMemory(t, []int{pid})

	conns := make([]net.Conn, attackers)
	for i := range conns {
		conns[i] = dialAttacker(t, c.addr, false)
		conns[i].SetWriteDeadline(time.Now().Add(60 * time.Second))
		if _, err := conns[i].Write(attack); err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
	}
	// A ping behind the fragments (allowed inside a fragmented message,
	// RFC 6455 §5.4): its pong says the worker has read them all.
	for i, conn := range conns {
		if err := pingSync(conn); err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
	}
	waitTrips(t, by, 50)

	mem.assertPeakWithin(attackMemBound)
	held := int64(attackers * fragments * fragSize)
	t.Logf("unfinished messages: %d MiB held, worker peak +%.1f MiB (%.2f times)",
		held>>20, float64(mem.growth()[pid])/(1<<20), float64(mem.growth()[pid])/float64(held))
	by.assertServed(bystanderRTTBound)
	// Returning the memory after the attackers close needs the worker's
	// memory limit and release after a spike (issue 10 point 1, another
	// branch): the Go runtime keeps freed heap for a while.
}

// bombFrame is a masked compressed binary frame that inflates to n zero
// bytes: about 10 KiB for 10 MiB.
func bombFrame(t *testing.T, n int) []byte {
	t.Helper()
	var z bytes.Buffer
	w, err := flate.NewWriter(&z, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(make([]byte, n))
	w.Flush()
	payload := bytes.TrimSuffix(z.Bytes(), []byte{0, 0, 0xff, 0xff})
	f := ws.NewFrame(ws.OpBinary, true, payload)
	f.Header.Rsv = ws.Rsv(true, false, false)
	b, err := ws.CompileFrame(ws.MaskFrame(f))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readCloseCode reads frames from conn until the server's close frame and
// returns its code.
func readCloseCode(conn net.Conn, timeout time.Duration) (ws.StatusCode, error) {
	conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		f, err := ws.ReadFrame(conn)
		if err != nil {
			return 0, err
		}
		if f.Header.OpCode == ws.OpClose {
			code, _ := ws.ParseCloseFrameData(f.Payload)
			return code, nil
		}
	}
}

// TestHostileDeflateBomb: with -deflate, a client sends 10 KiB messages
// that inflate past -max-message (10 MiB), again and again, on one
// connection after another. Each fails with
// 1009 as soon as the limit is passed; inflating is done in bounded rounds,
// so the bystanders on the same poller keep their round trips (issue 10: one
// bomb cut another client's echo from 57k to 36 messages/s), and the
// worker's memory stays bounded.
func TestHostileDeflateBomb(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 1, extra: []string{"-deflate"}})
	pid := workerPID(t, c)
	// Compressing the bomb takes the test seconds of CPU under the race
	// detector: before the bystanders' clock starts.
	bomb := bombFrame(t, 10<<20+1)
	t.Logf("bomb: %d bytes inflating to 10 MiB + 1", len(bomb))
	by := startBystanders(t, c, 2)
	mem := watchMemory(t, []int{pid})
	// One attacker: each inflating connection may hold up to -max-message
	// of output, and the race detector's shadow memory quadruples it.
	const attackers, rounds = 1, 20
	errs := make(chan error, attackers)
	for a := range attackers {
		go func() {
			errs <- func() error {
				for r := range rounds {
					conn, err := tryDialAttacker(c.addr, true)
					if err != nil {
						return err
					}
					if _, err := conn.Write(bomb); err != nil {
						conn.Close()
						return fmt.Errorf("attacker %d round %d: %w", a, r, err)
					}
					code, err := readCloseCode(conn, 30*time.Second)
					conn.Close()
					if err != nil {
						return fmt.Errorf("attacker %d round %d: no close frame: %w", a, r, err)
					}
					if code != ws.StatusMessageTooBig {
						return fmt.Errorf("attacker %d round %d: closed with %d, want 1009", a, r, code)
					}
				}
				return nil
			}()
		}()
	}
	var failed []error
	for range attackers {
		if err := <-errs; err != nil {
			failed = append(failed, err)
		}
	}
	if err := errors.Join(failed...); err != nil {
		t.Error(err)
	}
	mem.assertPeakWithin(attackMemBound)
	by.assertServed(bystanderRTTBound)
}
