package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"syscall"
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
	if err := syscall.Kill(frozen.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(frozen.PID, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
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
	sem := make(chan struct{}, 32)
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
	c := startCluster(t, clusterOpts{count: 4})
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
