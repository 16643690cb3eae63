package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// handoffClients is how many clients the hand-off's chat test holds:
// WSFLEET_E2E_HANDOFF_CLIENTS, default 200 (the issue asks 2,000; the test
// process keeps two descriptors per client under its 20,000 files).
func handoffClients(t *testing.T) int {
	if v := os.Getenv("WSFLEET_E2E_HANDOFF_CLIENTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 20 || n > 5000 {
			t.Fatalf("WSFLEET_E2E_HANDOFF_CLIENTS=%q: want 20 to 5000", v)
		}
		return n
	}
	return 200
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
// 50 ms: no connection is closed, no dial refused or bounced, every
// member keeps getting its room's messages. Exactly once is not reached
// yet: what the hand-off windows lose or double is counted and logged.
func TestReloadHandoffChat(t *testing.T) {
	t.Parallel()
	n := handoffClients(t)
	const rooms, reloads = 10, 10
	c := startCluster(t, clusterOpts{count: 4, app: "chat", extra: []string{"-handoff"}})
	clients := c.dialN(n)
	for i, cl := range clients {
		cl.sendChat(chatMsg{Type: "join", Room: fmt.Sprintf("r%d", i%rooms), Name: fmt.Sprintf("u%d", i)})
		cl.expectChat("joined", "joined")
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
	// Every member has its sender's last message, or the poll ends.
	_ = poll(20*time.Second, func() error {
		for i, l := range logs {
			r := i % rooms
			l.mu.Lock()
			got := l.got[fmt.Sprintf("u%d", r)]
			ended := l.ended
			l.mu.Unlock()
			if ended == "" && (len(got) == 0 || got[len(got)-1] < lasts[r]) {
				return fmt.Errorf("client %d waits for u%d:%d", i, r, lasts[r])
			}
		}
		return nil
	})
	close(stop)
	wg.Wait()
	var lostAll, dupAll, disorderAll, bad int
	for i, l := range logs {
		r := i % rooms
		if l.ended != "" {
			t.Errorf("client %d: connection ended: %s", i, l.ended)
			continue
		}
		lost, dup, disorder := l.check(fmt.Sprintf("u%d", r), lasts[r])
		// Not yet exactly once (issue 15, point 3): a room message
		// published in a connection's hand-off window, between the old
		// worker's snapshot and the new worker's taking the connection
		// into its rooms, reaches it through neither (lost) or both
		// (doubled); this counts them, for the report, until the bus's
		// messages carry the positions that make exactly once possible.
		lostAll, dupAll, disorderAll = lostAll+lost, dupAll+dup, disorderAll+disorder
		if lost+dup+disorder > 0 {
			bad++
		}
		if got := len(l.got[fmt.Sprintf("u%d", r)]); got < lasts[r]/2 {
			t.Errorf("client %d: only %d of u%d's %d messages", i, got, r, lasts[r])
		}
	}
	t.Logf("%d clients, %d reloads, %d messages per room; in hand-off windows %d messages lost, %d doubled, %d out of order, at %d clients",
		n, reloads, lasts[0], lostAll, dupAll, disorderAll, bad)
}

// goChatDialLoop opens a chat connection, asks whoami and closes it, over
// and over until done is closed: every dial must be answered.
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
			cl, err := tryDialWS(addr)
			if err != nil {
				s.failures = append(s.failures, fmt.Sprintf("dial %d: %v", i, err))
				continue
			}
			err = cl.write(ws.OpText, []byte(`{"type":"whoami"}`))
			var ev wsEvent
			if err == nil {
				ev, err = cl.readMessage(expectTimeout)
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
