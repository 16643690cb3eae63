package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// The metrics every scrape carries (docs/metrics.md).
var workerMetricNames = []string{
	"wsfleet_connections", "wsfleet_connections_accepted_total",
	"wsfleet_messages_in_total", "wsfleet_messages_out_total",
	"wsfleet_bytes_in_total", "wsfleet_bytes_out_total",
	"wsfleet_send_buffer_closes_total", "wsfleet_rate_limit_closes_total",
	"wsfleet_bus_reconnects_total", "wsfleet_bus_connected", "wsfleet_worker_restarts_total",
	"wsfleet_reloads_total", "wsfleet_reloads_failed_total", "wsfleet_scrape_errors_total",
	"go_goroutines", "process_resident_memory_bytes",
}

// TestMetrics: /metrics scraped before and after 300 clients connect and
// each sends k messages to the echo app: the connection gauge (per worker),
// accepted, messages and bytes in and out move by exactly what was done;
// closing them all with 4001 moves closed_total{code="4xxx"} by exactly
// 300; a forbidden Origin and a bad request move their handshake failure
// reasons by one each; a reload moves wsfleet_reloads_total by one and
// every counter keeps the replaced workers' totals, including what they
// counted after the last scrape.
func TestMetrics(t *testing.T) {
	const n, k = 300, 5
	admin := freeAddr(t)
	c := startCluster(t, clusterOpts{count: 2, extra: []string{
		"-admin-listen", admin, "-ping-interval", "0", "-allow-origin", "http://good.example",
	}})
	before := scrapeMetrics(t, admin)
	before.mustHave(t, workerMetricNames...)
	if ws := before.labelValues("wsfleet_connections", "worker"); !slices.Equal(ws, []string{"0", "1"}) {
		t.Fatalf("wsfleet_connections workers %v, want [0 1]", ws)
	}

	clients := c.dialN(n)
	var opened scrape
	waitFor(t, 10*time.Second, func() error {
		opened = scrapeMetrics(t, admin)
		if d := opened.sum("wsfleet_connections") - before.sum("wsfleet_connections"); d != n {
			return fmt.Errorf("wsfleet_connections moved by %v, want %d", d, n)
		}
		return nil
	})
	for _, w := range []string{"0", "1"} {
		if opened.sum("wsfleet_connections", "worker", w) == 0 {
			t.Errorf("worker %s holds no connection of %d", w, n)
		}
	}
	moved(t, before, opened, n, "wsfleet_connections_accepted_total")

	msg := func(i int) string { return fmt.Sprintf("message %d", i) }
	for _, cl := range clients {
		for i := range k {
			cl.send(msg(i))
		}
	}
	var inBytes, outBytes float64
	for i := range k {
		inBytes += float64(6 + len(msg(i)))           // a masked frame's header is 6 bytes
		outBytes += float64(2 + len("hello "+msg(i))) // the server's, 2
	}
	for _, cl := range clients {
		for i := range k {
			cl.expect("hello " + msg(i))
		}
	}
	chatted := scrapeMetrics(t, admin)
	moved(t, opened, chatted, n*k, "wsfleet_messages_in_total")
	moved(t, opened, chatted, n*k, "wsfleet_messages_out_total")
	moved(t, opened, chatted, n*inBytes, "wsfleet_bytes_in_total")
	moved(t, opened, chatted, n*outBytes, "wsfleet_bytes_out_total")

	const code = 4001
	for _, cl := range clients {
		closeWith(t, cl, code)
	}
	var closed scrape
	waitFor(t, 10*time.Second, func() error {
		closed = scrapeMetrics(t, admin)
		if d := closed.sum("wsfleet_connections_closed_total", "code", "4xxx") - chatted.sum("wsfleet_connections_closed_total", "code", "4xxx"); d != n {
			return fmt.Errorf("closed_total{code=4xxx} moved by %v, want %d", d, n)
		}
		return nil
	})
	moved(t, before, closed, 0, "wsfleet_connections")
	moved(t, chatted, closed, 8*n, "wsfleet_bytes_in_total")  // the client's close frame with its code
	moved(t, chatted, closed, 4*n, "wsfleet_bytes_out_total") // and its echo
	if closed.sum("wsfleet_connections_closed_total") != n {
		t.Errorf("closed_total over all codes %v, want %d", closed.sum("wsfleet_connections_closed_total"), n)
	}

	// A forbidden Origin, then a request without Sec-WebSocket-Key.
	h := ws.HandshakeHeaderHTTP(http.Header{"Origin": {"http://evil.example"}})
	if cl, err := tryDialWSURL(ws.Dialer{Header: h}, "ws://"+c.addr+"/"); err == nil {
		cl.close()
		t.Fatal("a forbidden Origin was let in")
	}
	badRequest(t, c.addr)
	failed := scrapeMetrics(t, admin)
	moved(t, closed, failed, 1, "wsfleet_handshake_failures_total", "reason", "origin")
	moved(t, closed, failed, 1, "wsfleet_handshake_failures_total", "reason", "bad_request")
	moved(t, closed, failed, 2, "wsfleet_handshake_failures_total")
	moved(t, closed, failed, 2, "wsfleet_connections_accepted_total")

	// A reload replaces both workers: their totals are kept, with what a
	// worker counted after the last scrape (its final figures): a client
	// chats and leaves, unscraped, then the reload.
	last := c.dial()
	for i := range 3 {
		last.send(msg(i))
		last.expect("hello " + msg(i))
	}
	closeWith(t, last, code)
	c.mustCLI("reload")
	c.waitRunning(readyTimeout)
	reloaded := scrapeMetrics(t, admin)
	moved(t, failed, reloaded, 1, "wsfleet_reloads_total")
	moved(t, failed, reloaded, 0, "wsfleet_reloads_failed_total")
	moved(t, failed, reloaded, 1, "wsfleet_connections_accepted_total")
	moved(t, failed, reloaded, 3, "wsfleet_messages_in_total")
	moved(t, failed, reloaded, 3, "wsfleet_messages_out_total")
	moved(t, failed, reloaded, 1, "wsfleet_connections_closed_total")
	moved(t, failed, reloaded, 0, "wsfleet_handshake_failures_total")
	moved(t, failed, reloaded, 0, "wsfleet_connections")
	cl := c.dial()
	cl.send("after")
	cl.expect("hello after")
	moved(t, reloaded, scrapeMetrics(t, admin), 1, "wsfleet_messages_in_total")
}

// closeWith closes cl with code: its close frame, the server's echo, the
// end of the connection.
func closeWith(t *testing.T, cl *wsClient, code ws.StatusCode) {
	t.Helper()
	cl.wmu.Lock()
	cl.closeSent = true // the server's echo is not echoed again
	cl.wmu.Unlock()
	if err := cl.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(code, "")), true); err != nil {
		t.Fatalf("client %s: send close: %v", cl.local, err)
	}
	cl.expectClose(expectTimeout, code)
	cl.expectEOF(expectTimeout)
	cl.close()
}

// badRequest sends an upgrade request without Sec-WebSocket-Key and
// expects a 400.
func badRequest(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(expectTimeout))
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil || !strings.Contains(line, " 400 ") {
		t.Fatalf("bad request answered %q, %v; want a 400", line, err)
	}
}

// TestMetricsBroadcast: the push app's timer broadcasts move the delivery
// latency histogram, and the master's bus shows as connected.
func TestMetricsBroadcast(t *testing.T) {
	admin := freeAddr(t)
	c := startCluster(t, clusterOpts{count: 2, app: "push", pushInterval: 200 * time.Millisecond,
		extra: []string{"-admin-listen", admin}})
	before := scrapeMetrics(t, admin)
	cl := c.dial()
	cl.nextMessage(expectTimeout) // a push reached it
	waitFor(t, 10*time.Second, func() error {
		s := scrapeMetrics(t, admin)
		// Each broadcast is measured by both workers.
		if d := s.sum("wsfleet_broadcast_delivery_seconds") - before.sum("wsfleet_broadcast_delivery_seconds"); d < 4 {
			return fmt.Errorf("delivery histogram count moved by %v, want 4 or more", d)
		}
		if ws := s.labelValues("wsfleet_broadcast_delivery_seconds", "worker"); !slices.Equal(ws, []string{"0", "1"}) {
			return fmt.Errorf("delivery histogram workers %v, want [0 1]", ws)
		}
		return nil
	})
	s := scrapeMetrics(t, admin)
	if s.sum("wsfleet_bus_connected", "worker", "master") != 1 || s.sum("wsfleet_bus_connected") != 3 {
		t.Errorf("wsfleet_bus_connected: master %v, all %v; want 1 and 3",
			s.sum("wsfleet_bus_connected", "worker", "master"), s.sum("wsfleet_bus_connected"))
	}
}

// TestReadyz: /readyz is 200 with every worker running and the bus up;
// with the external NATS killed it turns 503 naming the bus, and 200 again
// once NATS is back, which the bus reconnect counters show.
func TestReadyz(t *testing.T) {
	nats := startNATS(t)
	admin := freeAddr(t)
	startCluster(t, clusterOpts{count: 2, nats: nats.url(), extra: []string{"-admin-listen", admin}})
	if code, body := adminGet(t, admin, "/readyz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Fatalf("/readyz: %d %q, want 200 ok", code, body)
	}
	before := scrapeMetrics(t, admin)

	nats.kill()
	waitFor(t, 15*time.Second, func() error {
		code, body := adminGet(t, admin, "/readyz")
		if code != http.StatusServiceUnavailable || !strings.Contains(body, "bus: disconnected") {
			return fmt.Errorf("/readyz with NATS down: %d %q, want 503 naming the bus", code, body)
		}
		return nil
	})
	nats.start()
	waitFor(t, 30*time.Second, func() error {
		if code, body := adminGet(t, admin, "/readyz"); code != http.StatusOK {
			return fmt.Errorf("/readyz with NATS back: %d %q, want 200", code, body)
		}
		return nil
	})
	after := scrapeMetrics(t, admin)
	if d := after.sum("wsfleet_bus_reconnects_total", "worker", "master") - before.sum("wsfleet_bus_reconnects_total", "worker", "master"); d < 1 {
		t.Errorf("the master's bus reconnects moved by %v, want 1 or more", d)
	}
	for _, w := range []string{"0", "1"} {
		if d := after.sum("wsfleet_bus_reconnects_total", "worker", w) - before.sum("wsfleet_bus_reconnects_total", "worker", w); d < 1 {
			t.Errorf("worker %s's bus reconnects moved by %v, want 1 or more", w, d)
		}
	}
}

// TestMetricsStuckWorker: a worker that stops answering (SIGSTOP) costs a
// scrape about a second, is counted in wsfleet_scrape_errors_total and
// shows its last figures; once the master killed and restarted it,
// wsfleet_worker_restarts_total moved by one, /readyz is 200 again, and its
// slot's counters kept what the dead worker had counted at the last scrape.
func TestMetricsStuckWorker(t *testing.T) {
	admin := freeAddr(t)
	c := startCluster(t, clusterOpts{count: 2, extra: []string{"-admin-listen", admin, "-ping-interval", "0"}})
	for _, cl := range c.dialN(20) {
		cl.send("x")
		cl.expect("hello x")
	}
	before := scrapeMetrics(t, admin)
	in0 := before.sum("wsfleet_messages_in_total", "worker", "0")
	if in0 == 0 {
		t.Fatal("worker 0 got none of 20 clients")
	}
	var pid int
	for _, w := range c.status().Workers {
		if w.Slot == 0 {
			pid = w.PID
		}
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })

	start := time.Now()
	stuck := scrapeMetrics(t, admin)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("a scrape with a stopped worker took %s", took)
	}
	moved(t, before, stuck, 1, "wsfleet_scrape_errors_total", "worker", "0")
	moved(t, before, stuck, 0, "wsfleet_scrape_errors_total", "worker", "1")
	moved(t, before, stuck, 0, "wsfleet_messages_in_total", "worker", "0")

	waitFor(t, 30*time.Second, func() error {
		s, err := tryScrape(admin)
		if err != nil {
			return err
		}
		if d := s.sum("wsfleet_worker_restarts_total", "worker", "0") - before.sum("wsfleet_worker_restarts_total", "worker", "0"); d != 1 {
			return fmt.Errorf("worker 0 restarts moved by %v", d)
		}
		if code, body := adminGet(t, admin, "/readyz"); code != http.StatusOK {
			return fmt.Errorf("/readyz %d %q", code, body)
		}
		return nil
	})
	after := scrapeMetrics(t, admin)
	moved(t, before, after, 0, "wsfleet_messages_in_total", "worker", "0")
	moved(t, before, after, 0, "wsfleet_messages_in_total", "worker", "1")
	moved(t, before, after, 0, "wsfleet_connections_accepted_total")
}
