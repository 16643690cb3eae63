package e2e

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// allSubject is where the push timer publishes, under the default cluster
// prefix.
const allSubject = "wsfleet.all"

// TestPushOncePerTick: every client gets exactly one push per tick of the
// master's timer, whatever the number of workers. Ticks are observed on
// NATS, not inferred from wall-clock spacing: the window runs from the
// midpoint of ticks t0,t1 to the midpoint of tK,tK+1, and each client must
// receive exactly K pushes inside it.
func TestPushOncePerTick(t *testing.T) {
	t.Parallel()
	for _, count := range []int{4, 1} {
		t.Run(fmt.Sprintf("count=%d", count), func(t *testing.T) {
			t.Parallel()
			checkPushOncePerTick(t, count)
		})
	}
}

func checkPushOncePerTick(t *testing.T, count int) {
	const (
		interval = 400 * time.Millisecond
		K        = 5
		clientsN = 40
	)
	c := startCluster(t, clusterOpts{count: count, app: "push", pushInterval: interval})
	ticks := subscribeTicks(t, c.status().Master.NATSURL)
	clients := c.dialN(clientsN)
	for _, cl := range clients {
		if ev := cl.nextMessage(5 * time.Second); string(ev.data) != pushText {
			t.Fatalf("client %s: first message %q, want %q", cl.local, ev.data, pushText)
		}
	}
	ready := time.Now()

	// t0 .. tK+1: the first K+2 ticks published after every client had its
	// first push.
	var ts []time.Time
	for i := 0; len(ts) < K+2 && i < 1000; i++ {
		if tk := waitChan(t, ticks, 5*time.Second, "push tick on NATS"); tk.After(ready) {
			ts = append(ts, tk)
		}
	}
	if len(ts) < K+2 {
		t.Fatalf("only %d ticks after the clients were ready", len(ts))
	}
	for i := 1; i < len(ts); i++ {
		if d := ts[i].Sub(ts[i-1]); d < interval/2 {
			t.Errorf("ticks %d and %d only %s apart with -push-interval %s: more than one publish per tick", i-1, i, d, interval)
		}
	}
	open, shut := midpoint(ts[0], ts[1]), midpoint(ts[K], ts[K+1])
	for _, cl := range clients {
		n, err := countPushes(cl, open, shut)
		if err != nil {
			t.Error(err)
		} else if n != K {
			t.Errorf("client %s got %d pushes in a window of %d ticks", cl.local, n, K)
		}
	}
}

// subscribeTicks subscribes to allSubject on url and returns the arrival
// time of every message published there.
func subscribeTicks(t *testing.T, url string) <-chan time.Time {
	t.Helper()
	nc := natsConnect(t, url, nats.Name("e2e tick observer"))
	ch := make(chan time.Time, 1024)
	if _, err := nc.Subscribe(allSubject, func(*nats.Msg) {
		select {
		case ch <- time.Now():
		default:
		}
	}); err != nil {
		t.Fatalf("subscribe %s: %v", allSubject, err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	return ch
}

// countPushes counts cl's pushes that arrived in [open, shut], reading until
// the first one after shut (the next tick's), so that it never has to guess
// whether more are on their way.
func countPushes(cl *wsClient, open, shut time.Time) (int, error) {
	n := 0
	for i := 0; i < 1000; i++ {
		ev, err := cl.readMessage(5 * time.Second)
		if err != nil {
			return n, err
		}
		if string(ev.data) != pushText {
			return n, fmt.Errorf("client %s: got %q, want only %q", cl.local, ev.data, pushText)
		}
		switch {
		case ev.at.After(shut):
			return n, nil
		case !ev.at.Before(open):
			n++
		}
	}
	return n, fmt.Errorf("client %s: no push after the window", cl.local)
}

// midpoint returns the instant halfway between a and b.
func midpoint(a, b time.Time) time.Time { return a.Add(b.Sub(a) / 2) }

// natsHolder owns the NATS server a test runs in place of the embedded
// one, so that one cleanup (registered before the cluster's, hence run
// after it) shuts down whichever server is current.
type natsHolder struct {
	mu   sync.Mutex
	port int
	ns   *server.Server
}

// start runs a NATS server on 127.0.0.1:h.port and waits until it accepts.
func (h *natsHolder) start(t *testing.T) {
	t.Helper()
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: h.port, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		t.Fatalf("nats server on port %d not ready", h.port)
	}
	h.mu.Lock()
	h.ns = ns
	h.mu.Unlock()
}

// shutdown stops the current server, if any, and waits until it is down.
func (h *natsHolder) shutdown() {
	h.mu.Lock()
	ns := h.ns
	h.ns = nil
	h.mu.Unlock()
	if ns != nil {
		ns.Shutdown()
		ns.WaitForShutdown()
	}
}

// TestNATSReconnect: with -nats pointing at an external server, pushes
// resume after that server is replaced, and no client is disconnected.
func TestNATSReconnect(t *testing.T) {
	t.Parallel()
	_, portStr, _ := net.SplitHostPort(freeAddr(t))
	port, _ := strconv.Atoi(portStr)
	h := &natsHolder{port: port}
	t.Cleanup(h.shutdown)
	h.start(t)
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)

	c := startCluster(t, clusterOpts{count: 2, app: "push", pushInterval: 300 * time.Millisecond, nats: url})
	if st := c.status(); st.Master.EmbeddedNATS {
		t.Errorf("status says embedded_nats with -nats %s", url)
	}
	clients := c.dialN(6)
	for _, cl := range clients {
		if ev := cl.nextMessage(5 * time.Second); string(ev.data) != pushText {
			t.Fatalf("client %s: got %q, want %q", cl.local, ev.data, pushText)
		}
	}

	h.shutdown()
	h.start(t)
	up := time.Now()

	// Each client gets a push that arrived after the new server was up, on
	// the same connection: readMessage fails on a close or a disconnect.
	for _, cl := range clients {
		got := false
		for i := 0; i < 1000 && !got; i++ {
			ev, err := cl.readMessage(30 * time.Second)
			if err != nil {
				t.Fatalf("waiting for a push after the NATS restart: %v", err)
			}
			got = ev.at.After(up)
		}
		if !got {
			t.Errorf("client %s: no push after the NATS restart", cl.local)
		}
	}
}
