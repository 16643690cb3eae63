package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestConnectionsBiggerThanALine: a worker holding more connections than
// one control line (1 MiB) can describe answers `connections` in pieces,
// and the command lists every one of them.
func TestConnectionsBiggerThanALine(t *testing.T) {
	t.Parallel()
	const n = 6000 // about 200 bytes each: over 1 MiB from one worker
	c := startCluster(t, clusterOpts{count: 1})
	conns := dialMany(t, c.addr, n)
	cs := c.connections()
	if len(cs.Connections) != n {
		t.Fatalf("connections lists %d, want %d", len(cs.Connections), n)
	}
	listed := map[string]bool{}
	for _, ci := range cs.Connections {
		listed[ci.Remote] = true
	}
	for _, nc := range conns {
		if !listed[nc] {
			t.Fatalf("connection from %s not listed", nc)
		}
	}
	raw, _, code := c.cli("connections", "-json")
	if code != 0 || len(raw) < 1<<20 {
		t.Errorf("connections -json: exit %d, %d bytes; want 0 and over 1 MiB", code, len(raw))
	}
	out := c.mustCLI("connections")
	mustContain(t, "connections", out, fmt.Sprintf("%d connections", n))
}

// TestConnectionsNamesSilentWorker: with a worker that does not answer,
// `connections` lists the others' connections, names the silent worker on
// stderr and exits 1.
func TestConnectionsNamesSilentWorker(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2})
	clients := c.dialN(8)
	owners := c.owners(clients)
	frozen := c.status().Workers[0]
	resume := freezeWorker(t, frozen.PID)
	out, errOut, code := c.cli("connections", "-json")
	resume()
	if code != 1 {
		t.Errorf("connections with a stopped worker exited %d, want 1", code)
	}
	mustContain(t, "connections' stderr", errOut, fmt.Sprintf("worker %d (pid %d) did not answer", frozen.Slot, frozen.PID))
	var cs connectionsJSON
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		t.Fatalf("connections -json: %v in %q", err, out)
	}
	want := 0
	for _, o := range owners {
		if o.WorkerPID != frozen.PID {
			want++
		}
	}
	if len(cs.Connections) != want {
		t.Errorf("%d connections listed, want the other worker's %d", len(cs.Connections), want)
	}
	c.waitRunning(10 * time.Second)
}

// dialMany opens n WebSocket connections to addr, 32 at a time, without a
// reader each (cheap enough for thousands), closed at the end of the test;
// it returns their local addresses.
func dialMany(t *testing.T, addr string, n int) []string {
	t.Helper()
	locals := make([]string, n)
	var mu sync.Mutex
	var firstErr error
	// Well under the door's 32 handshakes in progress per address, which
	// counts a handshake until just after its 101 is written.
	sem := make(chan struct{}, 16)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, _, _, err := ws.Dial(ctx, "ws://"+addr+"/")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				firstErr = err
				return
			}
			t.Cleanup(func() { conn.Close() })
			locals[i] = conn.LocalAddr().String()
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("dial: %v", firstErr)
	}
	return locals
}

// TestReloadBouncedClientsLandOnNewWorkers: every client bounced by a plain
// `reload` (1012) reconnects at once; each reconnection lands on a new
// worker and is not bounced again, because no old worker closes a client
// before every replacement accepts and every old worker has stopped
// accepting.
func TestReloadBouncedClientsLandOnNewWorkers(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 4, extra: []string{"-handoff=false"}})
	before := c.status()
	old := map[int]bool{}
	for _, w := range before.Workers {
		old[w.PID] = true
	}
	clients := c.dialN(40)
	var mu sync.Mutex
	var again []*wsClient
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for _, cl := range clients {
		wg.Go(func() {
			ev, err := cl.waitClose(cliTimeout)
			if err != nil || ev.code != statusServiceRestart {
				errs <- fmt.Errorf("client %s: close %d, %v; want 1012", cl.local, ev.code, err)
				return
			}
			re, err := tryDialWS(c.addr)
			if err != nil {
				errs <- fmt.Errorf("reconnect after 1012: %w", err)
				return
			}
			re.t = t
			mu.Lock()
			again = append(again, re)
			mu.Unlock()
		})
	}
	c.mustCLI("reload")
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var live []*wsClient
	for _, re := range again {
		t.Cleanup(re.close)
		if err := re.roundTrip("after the reload"); err != nil {
			t.Errorf("reconnected client %s, bounced again? %v", re.local, err)
			continue
		}
		live = append(live, re)
	}
	for re, o := range c.owners(live) {
		if old[o.WorkerPID] {
			t.Errorf("client %s reconnected to old worker %d", re.local, o.WorkerPID)
		}
	}
}

// TestReloadGracefulHandshakeInFlight: a connection accepted by the old
// worker before `reload -g` and upgraded only after that worker began to
// drain is owed the whole grace too: it is not closed with 1012 at once
// because the worker had no other client.
func TestReloadGracefulHandshakeInFlight(t *testing.T) {
	t.Parallel()
	const grace = 8 * time.Second
	c := startCluster(t, clusterOpts{count: 1})
	before := c.status()
	nc, err := net.Dial("tcp", c.addr) // accepted at once; the request comes later
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	start := time.Now()
	reloaded := goCLI("reload", "-pid-file", c.pidFile, "-g", "-grace", grace.String())
	waitFor(t, 30*time.Second, func() error {
		log := readFile(t, c.fgOut)
		if !strings.Contains(log, `msg="worker stopping"`) || !strings.Contains(log, "graceful=true") {
			return fmt.Errorf("the old worker %d has not begun to drain", before.Workers[0].PID)
		}
		return nil
	})
	u, _ := url.Parse("ws://" + c.addr + "/")
	br, _, err := ws.Dialer{}.Upgrade(nc, u)
	if err != nil {
		t.Fatalf("upgrade on the draining worker: %v", err)
	}
	cl := wrapClient(t, nc, br)
	if err := cl.roundTrip("in the grace"); err != nil {
		t.Fatalf("during the grace: %v", err)
	}
	ev := cl.expectClose(2*grace+30*time.Second, statusServiceRestart)
	if d := ev.at.Sub(start); d < grace-graceSlack {
		t.Errorf("closed %s after reload -g, before the %s grace", d, grace)
	}
	waitChan(t, reloaded, cliTimeout, "reload -g").check(t, "reload -g")
}

// wrapClient makes a test client of a connection upgraded by hand; br holds
// what the server sent behind its answer.
func wrapClient(t *testing.T, nc net.Conn, br *bufio.Reader) *wsClient {
	var r io.Reader = nc
	if br != nil {
		r = io.MultiReader(io.LimitReader(br, int64(br.Buffered())), nc)
	}
	c := &wsClient{
		t: t, conn: nc, local: nc.LocalAddr().String(),
		events: make(chan wsEvent, 1024), done: make(chan struct{}), readerDone: make(chan struct{}),
		autoPong: true,
	}
	go c.readLoop(bufio.NewReader(r))
	t.Cleanup(c.close)
	return c
}
