package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/internal/testcert"
)

// TestTLSSessionsResumeOnEveryWorker: the master gives its workers the
// same session ticket keys, so a client's reconnects resume their TLS
// session whichever of the -count 4 workers SO_REUSEPORT hands them to,
// and still do after a reload (new workers, the same keys).
func TestTLSSessionsResumeOnEveryWorker(t *testing.T) {
	pair, err := testcert.Write(t.TempDir(), "tickets")
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, clusterOpts{count: 4, extra: []string{"-tls-cert", pair.CertFile, "-tls-key", pair.KeyFile}})
	url := "wss://" + c.addr + "/"
	cache := tls.NewLRUClientSessionCache(16)
	d := ws.Dialer{TLSConfig: &tls.Config{RootCAs: pair.Pool, MinVersion: tls.VersionTLS13, ClientSessionCache: cache}}

	first, _ := dialRaw(t, d, url)
	if first.(*tls.Conn).ConnectionState().DidResume {
		t.Fatal("the first connection resumed a session it never had")
	}
	roundTripText(t, first, "ticket", "hello ticket") // TLS 1.3: the ticket arrives after the handshake
	first.Close()

	// 40 dials: SO_REUSEPORT leaves a worker out with odds 4·(3/4)^40.
	const dials = 40
	before := resumeOnAll(t, c, d, url, dials, nil)

	c.mustCLI("reload")
	st := c.waitRunning(readyTimeout)
	for _, w := range st.Workers {
		if before[w.PID] {
			t.Fatalf("worker pid %d survived the reload", w.PID)
		}
	}
	resumeOnAll(t, c, d, url, dials, before)
}

// resumeOnAll dials n connections with d, checks that every one resumed
// its TLS session, and that they reached all four workers, none of them
// one of old's pids. It returns the workers' pids.
func resumeOnAll(t *testing.T, c *cluster, d ws.Dialer, url string, n int, old map[int]bool) map[int]bool {
	t.Helper()
	locals := make(map[string]bool, n)
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for i := range n {
		conn, _ := dialRaw(t, d, url)
		conns = append(conns, conn)
		if !conn.(*tls.Conn).ConnectionState().DidResume {
			t.Fatalf("dial %d of %d (from %s) did not resume its TLS session", i+1, n, conn.LocalAddr())
		}
		roundTripText(t, conn, "r", "hello r") // its new ticket, and a working connection
		locals[conn.LocalAddr().String()] = true
	}
	pids := map[int]bool{}
	waitFor(t, 15*time.Second, func() error {
		cs, err := queryConnections(c.pidFile)
		if err != nil {
			return err
		}
		clear(pids)
		seen := 0
		for _, cj := range cs.Connections {
			if locals[cj.Remote] {
				seen++
				pids[cj.WorkerPID] = true
			}
		}
		if seen != n {
			return fmt.Errorf("%d of %d connections listed", seen, n)
		}
		return nil
	})
	if len(pids) != 4 {
		t.Fatalf("%d connections reached %d workers (%v), want all 4", n, len(pids), pids)
	}
	for pid := range pids {
		if old[pid] {
			t.Fatalf("a connection reached pid %d, a worker from before the reload", pid)
		}
	}
	return pids
}
