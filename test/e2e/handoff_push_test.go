package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// seqLog is the numbered ticks one party got, in the order it got them.
type seqLog struct {
	mu  sync.Mutex
	seq []uint64
}

func (l *seqLog) add(s uint64) {
	l.mu.Lock()
	l.seq = append(l.seq, s)
	l.mu.Unlock()
}

// last is the latest tick got (0 before any).
func (l *seqLog) last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.seq) == 0 {
		return 0
	}
	return l.seq[len(l.seq)-1]
}

func (l *seqLog) all() []uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.seq)
}

// numberedTicks is examples/tutorial with its pushes numbered by the
// tick's Seq: "你好! <seq>".
func numberedTicks(src string) string {
	return strings.Replace(src, `t.Broadcast(app.Text("你好!"))`, `t.Broadcast(app.Text(fmt.Sprintf("你好! %d", t.Seq())))`, 1)
}

// TestReloadHandoffPush: a cluster timer fires every second (the issue's
// timer) while 10 reloads hand 2,000 clients over: every client gets every
// tick exactly once and in order. The program is examples/tutorial (a
// user's own binary, whose connections opt in to the hand-off) with its
// pushes numbered, so that a tick that comes late cannot pass for one
// lost: a spy on the bus records every tick the master publishes, and each
// client's ticks must be exactly the spy's, from the client's first to a
// tick published after the last reload.
func TestReloadHandoffPush(t *testing.T) {
	t.Parallel()
	const reloads = 10
	n := handoffClients(t)
	bin := buildExample(t, "tutorial", numberedTicks)
	c := newCluster(t, clusterOpts{count: 4})
	startExample(t, c, bin, "-push-every", "1s", "-nats-backend-password-file", backendSecretFile())
	spy, err := bus.Connect(context.Background(), bus.Options{URL: c.status().Master.NATSURL, Name: "e2e spy"})
	if err != nil {
		t.Fatal(err)
	}
	defer spy.Close(context.Background())
	var ticks seqLog
	if _, err := spy.SubscribeAll(func(m bus.Message) {
		if m.Tick != nil {
			ticks.add(m.Tick.Seq)
		}
	}); err != nil {
		t.Fatal(err)
	}
	clients := c.dialN(n)
	logs := make([]*seqLog, n)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, cl := range clients {
		logs[i] = &seqLog{}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				case ev := <-cl.events:
					switch ev.kind {
					case evPing, evPong:
					case evMessage:
						rest, ok := strings.CutPrefix(string(ev.data), "你好! ")
						seq, err := strconv.ParseUint(rest, 10, 64)
						if !ok || err != nil {
							t.Errorf("client %d: unexpected message %q", i, ev.data)
							return
						}
						logs[i].add(seq)
					default:
						t.Errorf("client %d: %v", i, ev)
						return
					}
				}
			}
		})
	}
	// Every client has a tick before the first reload.
	waitFor(t, 30*time.Second, func() error {
		for i, l := range logs {
			if l.last() == 0 {
				return fmt.Errorf("client %d has no tick yet", i)
			}
		}
		return nil
	})
	for range reloads {
		program(t, bin, "reload", "-pid-file", c.pidFile)
	}
	// The end: two ticks after the last reload, at every client (ticks
	// queued during the reloads may reach race-built workers' clients
	// seconds late; late is fine, lost or twice is not).
	end := ticks.last() + 2
	waitFor(t, 60*time.Second, func() error {
		if got := ticks.last(); got < end {
			return fmt.Errorf("the spy is at tick %d, waiting for %d", got, end)
		}
		for i, l := range logs {
			if got := l.last(); got < end {
				return fmt.Errorf("client %d is at tick %d, the spy at %d", i, got, end)
			}
		}
		return nil
	})
	close(stop)
	wg.Wait()
	published := ticks.all()
	if len(published) == 0 {
		t.Fatal("the spy saw no tick")
	}
	bad := 0
	for i, l := range logs {
		got := l.all()
		// A tick published just before the spy subscribed may reach a
		// client after it dialed: compare from the spy's first on.
		for len(got) > 0 && got[0] < published[0] {
			got = got[1:]
		}
		if len(got) == 0 {
			t.Fatalf("client %d: no tick after the spy's first (%d)", i, published[0])
		}
		var want []uint64
		for _, s := range published {
			if s >= got[0] && s <= got[len(got)-1] {
				want = append(want, s)
			}
		}
		if !slices.Equal(got, want) {
			bad++
			if bad <= 10 {
				t.Errorf("client %d got ticks %s, the master published %s", i, seqDiff(got, want), seqDiff(want, got))
			}
		}
	}
	t.Logf("%d clients, %d reloads, ticks %d to %d published: %d clients got another sequence", n, reloads, published[0], published[len(published)-1], bad)
	t.Logf("hand-offs (moved, kept, took): %s", handoffTimes(c))
}

// seqDiff shows a around its first difference from b.
func seqDiff(a, b []uint64) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo, hi := max(i-2, 0), min(i+3, len(a))
	return fmt.Sprintf("%v (%d in all, first difference at %d)", a[lo:hi], len(a), i)
}
