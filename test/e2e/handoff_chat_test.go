package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// handoffClients is how many clients the hand-off's tests hold:
// WSFLEET_E2E_HANDOFF_CLIENTS, default 2,000 as the issue asks (the test
// process keeps two descriptors per client under its 20,000 files).
func handoffClients(t *testing.T) int {
	if v := os.Getenv("WSFLEET_E2E_HANDOFF_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 20 || n > 5000 {
			t.Fatalf("WSFLEET_E2E_HANDOFF_CLIENTS=%q: want 20 to 5000", v)
		}
		return n
	}
	return 2000
}

// chatLog is what one client received of the senders' messages.
type chatLog struct {
	mu     sync.Mutex
	got    map[string][]int // sender -> the sequence numbers received, in order
	ended  string           // the connection's end, "" while open
	others int
}

// collect reads cl's messages until stop is closed or the connection ends.
func (l *chatLog) collect(cl *wsClient, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case ev := <-cl.events:
			switch ev.kind {
			case evPing, evPong:
				continue
			case evMessage:
			default:
				l.mu.Lock()
				l.ended = ev.String()
				l.mu.Unlock()
				return
			}
			// The backend's numbered broadcasts and direct messages.
			if kind, n, ok := strings.Cut(string(ev.data), ":"); ok && (kind == "tick" || kind == "direct") {
				seq, _ := strconv.Atoi(n)
				l.mu.Lock()
				l.got[kind] = append(l.got[kind], seq)
				l.mu.Unlock()
				continue
			}
			var m chatMsg
			if err := json.Unmarshal(ev.data, &m); err != nil || m.Type != "said" {
				l.mu.Lock()
				l.others++
				l.mu.Unlock()
				continue
			}
			from, seq, _ := strings.Cut(m.Text, ":")
			n, _ := strconv.Atoi(seq)
			l.mu.Lock()
			l.got[from] = append(l.got[from], n)
			l.mu.Unlock()
		}
	}
}

// check counts what is wrong with the messages from one sender whose last
// message was last: each of 1..last should come exactly once, in order.
func (l *chatLog) check(sender string, last int) (lost, dup, disorder int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	seqs := l.got[sender]
	seen := make(map[int]bool, len(seqs))
	prev := 0
	for _, n := range seqs {
		if seen[n] {
			dup++
		}
		if n < prev {
			disorder++
		}
		seen[n], prev = true, n
	}
	for i := 1; i <= last; i++ {
		if !seen[i] {
			lost++
		}
	}
	return lost, dup, disorder
}

// TestReloadHandoffChat: 10 reloads in a row with -handoff on 4 workers,
// while clients sit in 10 rooms and one member of each room talks every
// 50 ms, and a backend broadcasts a numbered tick to everyone and sends a
// numbered message to each of ten connections every 100 ms (the path of a
// push timer's ticks: a bus client publishing to everyone): no connection
// is closed, no dial refused or bounced, and every client gets every
// message of its room's sender, every tick, and its direct messages,
// exactly once and in order (issue 15, point 3).
func TestReloadHandoffChat(t *testing.T) {
	t.Parallel()
	n := handoffClients(t)
	const rooms, reloads, direct = 10, 10, 10
	// Room history only: with the chat's default user history each user
	// costs a JetStream consumer on every worker holding one of its
	// connections, and thousands of users, over a few generations of
	// workers, pass JetStream's 1,000 consumers per stream (the users past
	// it are served unordered, and their connections cannot move exactly).
	c := startCluster(t, clusterOpts{count: 4, app: "chat", extra: []string{"-handoff", "-history", "*=100,1h"}})
	// The backend connects first: in CI, with 2,000 race-built clients
	// reading in this test process, its connect failed with a broken pipe
	// (the server hung up, most likely at its 2 s authentication timeout).
	backend, err := bus.Connect(context.Background(), bus.Options{URL: c.status().Master.NATSURL, Name: "e2e backend"})
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close(context.Background())
	clients := c.dialN(n)
	for i, cl := range clients {
		cl.sendChat(chatMsg{Type: "join", Room: fmt.Sprintf("r%d", i%rooms), Name: fmt.Sprintf("u%d", i)})
		cl.expectChat("joined", "joined")
	}
	ids := make([]string, direct)
	for i := range ids {
		clients[i].sendChat(chatMsg{Type: "whoami"})
		ids[i] = clients[i].expectChat("you", "joined").Conn
	}
	stop := make(chan struct{})
	logs := make([]*chatLog, n)
	var wg sync.WaitGroup
	for i, cl := range clients {
		logs[i] = &chatLog{got: make(map[string][]int)}
		wg.Go(func() { logs[i].collect(cl, stop) })
	}
	// One sender per room: clients 0..rooms-1.
	lasts := make([]int, rooms)
	quiet := make(chan struct{})
	var senders sync.WaitGroup
	for r := range rooms {
		senders.Go(func() {
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for seq := 1; ; seq++ {
				select {
				case <-quiet:
					return
				case <-tick.C:
				}
				b, _ := json.Marshal(chatMsg{Type: "say", Room: fmt.Sprintf("r%d", r), Text: fmt.Sprintf("u%d:%d", r, seq)})
				if err := clients[r].write(ws.OpText, b); err != nil {
					return
				}
				lasts[r] = seq
			}
		})
	}
	var lastTick int
	senders.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for seq := 1; ; seq++ {
			select {
			case <-quiet:
				return
			case <-tick.C:
			}
			if err := backend.PublishAll(bus.Message{Data: fmt.Appendf(nil, "tick:%d", seq)}); err != nil {
				t.Errorf("tick %d: %v", seq, err)
				return
			}
			for _, id := range ids {
				if err := backend.PublishConn(id, bus.Message{Data: fmt.Appendf(nil, "direct:%d", seq)}); err != nil {
					t.Errorf("direct %d: %v", seq, err)
					return
				}
			}
			lastTick = seq
		}
	})
	done := make(chan struct{})
	dials := goChatDialLoop(c.addr, done)
	for k := range reloads {
		if out, errOut, code := c.cli("reload"); code != 0 {
			t.Fatalf("reload %d: exit %d: %s %s", k+1, code, out, errOut)
		}
	}
	close(done)
	close(quiet)
	senders.Wait()
	d := waitChan(t, dials, 30*time.Second, "dial loop")
	if d.failures != nil {
		t.Errorf("dials during the reloads: %d answered, failures: %v", d.answered, d.failures)
	}
	// wants is what client i must have: its sender's, the ticks, and for
	// the first ones their direct messages.
	wants := func(i int) map[string]int {
		w := map[string]int{fmt.Sprintf("u%d", i%rooms): lasts[i%rooms], "tick": lastTick}
		if i < direct {
			w["direct"] = lastTick
		}
		return w
	}
	// Every client has the last of each, or the poll ends.
	_ = poll(20*time.Second, func() error {
		for i, l := range logs {
			l.mu.Lock()
			ended := l.ended
			var missing string
			for from, last := range wants(i) {
				if got := l.got[from]; len(got) == 0 || got[len(got)-1] < last {
					missing = fmt.Sprintf("%s:%d", from, last)
				}
			}
			l.mu.Unlock()
			if ended == "" && missing != "" {
				return fmt.Errorf("client %d waits for %s", i, missing)
			}
		}
		return nil
	})
	close(stop)
	wg.Wait()
	var lostAll, dupAll, disorderAll, bad int
	for i, l := range logs {
		if l.ended != "" {
			t.Errorf("client %d: connection ended: %s", i, l.ended)
			continue
		}
		for from, last := range wants(i) {
			lost, dup, disorder := l.check(from, last)
			lostAll, dupAll, disorderAll = lostAll+lost, dupAll+dup, disorderAll+disorder
			if lost+dup+disorder > 0 {
				bad++
				if bad <= 10 {
					t.Errorf("client %d, %s's messages 1..%d: %d lost, %d doubled, %d out of order", i, from, last, lost, dup, disorder)
				}
			}
		}
	}
	t.Logf("%d clients, %d reloads, %d messages per room, %d ticks: %d lost, %d doubled, %d out of order, at %d clients",
		n, reloads, lasts[0], lastTick, lostAll, dupAll, disorderAll, bad)
	t.Logf("hand-offs (moved, kept, took): %s", handoffTimes(c))
	if t.Failed() {
		t.Logf("hand-off warnings:\n%s", handoffWarnings(c))
	}
}

// handoffWarnings is the first warnings the workers logged about
// hand-offs.
func handoffWarnings(c *cluster) string {
	var out []string
	for _, f := range c.logFiles() {
		b, _ := os.ReadFile(f)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "level=WARN") && (strings.Contains(line, "hand-off") || strings.Contains(line, "history")) && len(out) < 30 {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, "\n")
}

// handoffTimes lists what the workers' "connections handed off" log lines
// say, for the report: how many moved and how long each hand-off took.
func handoffTimes(c *cluster) string {
	var out []string
	for _, f := range c.logFiles() {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, "connections handed off") {
				continue
			}
			var moved, kept, took string
			for _, field := range strings.Fields(line) {
				k, v, _ := strings.Cut(field, "=")
				switch k {
				case "moved":
					moved = v
				case "kept":
					kept = v
				case "took":
					took = v
				}
			}
			out = append(out, moved+"/"+kept+"/"+took)
		}
	}
	return strings.Join(out, " ")
}

// goChatDialLoop opens a chat connection, asks whoami and closes it, over
// and over until done is closed: every dial must be answered. A dial may
// wait: with race-built workers busy with 2,000 chatting clients a
// handshake took over 5 s on two cores; refused or reset is the fault.
func goChatDialLoop(addr string, done <-chan struct{}) <-chan dialStats {
	out := make(chan dialStats, 1)
	go func() {
		var s dialStats
		defer func() { out <- s }()
		for i := 0; i < 5000; i++ {
			select {
			case <-done:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cl, err := tryDialWSContext(ctx, ws.Dialer{}, "ws://"+addr+"/")
			cancel()
			if err != nil {
				s.failures = append(s.failures, fmt.Sprintf("dial %d: %v", i, err))
				continue
			}
			err = cl.write(ws.OpText, []byte(`{"type":"whoami"}`))
			var ev wsEvent
			for err == nil { // past the backend's ticks
				if ev, err = cl.readMessage(expectTimeout); err != nil || !strings.HasPrefix(string(ev.data), "tick:") {
					break
				}
			}
			if err == nil && strings.Contains(string(ev.data), `"you"`) {
				s.answered++
			} else {
				s.failures = append(s.failures, fmt.Sprintf("dial %d: %v %q", i, err, ev.data))
			}
			cl.close()
		}
	}()
	return out
}
