package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// tickSeen is one distinct push tick observed on NATS.
type tickSeen struct {
	seq uint64
	at  time.Time
}

// subscribeDistinctTicks records each push tick once, by its Wsfleet-Tick
// header, however many masters sent it.
func subscribeDistinctTicks(t *testing.T, url string) <-chan tickSeen {
	t.Helper()
	return subscribeDistinctTicksVia(t, url, nil)
}

// natsDialer adapts a dial function to nats.CustomDialer.
type natsDialer func(ctx context.Context, network, addr string) (net.Conn, error)

func (d natsDialer) Dial(network, addr string) (net.Conn, error) {
	return d(context.Background(), network, addr)
}

// subscribeDistinctTicksVia is subscribeDistinctTicks through dial (nil:
// the default dialer), e.g. from a test host's network namespace.
func subscribeDistinctTicksVia(t *testing.T, url string, dial natsDialer) <-chan tickSeen {
	t.Helper()
	opts := []nats.Option{nats.Name("e2e tick observer")}
	if dial != nil {
		opts = append(opts, nats.SetCustomDialer(dial))
	}
	nc := natsConnect(t, url, opts...)
	ch := make(chan tickSeen, 1024)
	var last uint64
	if _, err := nc.Subscribe(allSubject, func(m *nats.Msg) {
		_, s, _ := strings.Cut(m.Header.Get("Wsfleet-Tick"), ":")
		seq, err := strconv.ParseUint(s, 10, 64)
		if err != nil || seq <= last {
			return
		}
		last = seq
		select {
		case ch <- tickSeen{seq, time.Now()}:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestTwoHostsOneTickAndFailover: two masters ("hosts" on loopback) whose
// embedded NATS servers are routed together, with a password and TLS. The push timer fires once per
// tick for the whole cluster: each client, on either host, gets exactly one
// push per tick. When the leading host dies, the other takes over within two
// intervals and its clients go on getting every tick.
func TestTwoHostsOneTickAndFailover(t *testing.T) {
	const interval = 2 * time.Second
	routeA, routeB := freeAddr(t), freeAddr(t)
	creds := newRouteCA(t) // the routes take a password and TLS (issue 11)
	a := startCluster(t, clusterOpts{count: 2, app: "push", pushInterval: interval,
		extra: append([]string{"-node", "a", "-cluster-listen", routeA, "-routes", "nats://" + routeB}, creds.flags("127.0.0.1")...)})
	b := startCluster(t, clusterOpts{count: 2, app: "push", pushInterval: interval,
		extra: append([]string{"-node", "b", "-cluster-listen", routeB, "-routes", "nats://" + routeA}, creds.flags("127.0.0.1")...)})
	ticks := subscribeDistinctTicks(t, b.status().Master.NATSURL)
	onA, onB := a.dialN(5), b.dialN(5)
	clients := append(append([]*wsClient{}, onA...), onB...)
	for _, cl := range clients {
		if ev := cl.nextMessage(3 * interval); string(ev.data) != pushText {
			t.Fatalf("first push: %q", ev.data)
		}
	}
	ready := time.Now()
	const K = 3
	var ts []tickSeen
	for i := 0; len(ts) < K+2 && i < 100; i++ {
		tk := waitChan(t, ticks, 3*interval, "push tick")
		if tk.at.After(ready) {
			ts = append(ts, tk)
		}
	}
	if ts[K+1].seq-ts[0].seq != K+1 {
		t.Fatalf("ticks %v: not consecutive", ts)
	}
	open, shut := midpoint(ts[0].at, ts[1].at), midpoint(ts[K].at, ts[K+1].at)
	for _, cl := range clients {
		n, err := countPushes(cl, open, shut)
		if err != nil || n != K {
			t.Fatalf("client %s got %d pushes over %d ticks (%v)", cl.local, n, K, err)
		}
	}

	// The leader ("a" sorts first) dies without a word.
	// The time is taken after the status query: on a busy machine that
	// query took over a second once, and the failover looked a tick late.
	pid := a.status().Master.PID
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-a.fgDone
	a.fg = nil               // it was killed on purpose; cleanup must not judge its exit
	os.Remove(a.pidFile)     // what the next start would take over
	for _, cl := range onA { // its workers follow it (control connection closed)
		if ev, err := cl.waitClose(10 * time.Second); err != nil && ev.kind != evEOF {
			t.Fatalf("client of the dead host: %v %v", ev, err)
		}
	}
	for _, cl := range onB {
		for {
			ev := cl.nextMessage(3 * interval)
			if ev.at.After(killed) && string(ev.data) == pushText {
				if gap := ev.at.Sub(killed); gap > 2*interval {
					t.Fatalf("first push on the surviving host %s after the leader died, want within %s", gap, 2*interval)
				}
				break
			}
		}
	}
	// And every tick once from then on.
	for _, cl := range onB {
		for i := 0; i < 2; i++ {
			ev := cl.nextMessage(3 * interval)
			if string(ev.data) != pushText {
				t.Fatalf("after failover: %q", ev.data)
			}
		}
	}
	waitFor(t, 10*time.Second, func() error {
		st := b.status()
		if st.Summary.Connections != len(onB) {
			return fmt.Errorf("%d connections on b", st.Summary.Connections)
		}
		return nil
	})
}
