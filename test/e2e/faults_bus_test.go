package e2e

// Fault cases of the bus (issue 10): an external NATS server down for 10 s
// and back, and one that stalls (SIGSTOP). The server runs in a process of
// its own, this test binary run again (natsProc), so that it can be killed,
// restarted on the same port, stopped and continued like a real one.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/nats-io/nats-server/v2/server"
)

// natsEnv, set to host:port, makes this test binary a NATS server (init
// below) instead of running tests.
const natsEnv = "WSFLEET_E2E_NATS"

func init() {
	if addr := os.Getenv(natsEnv); addr != "" {
		os.Exit(serveNATS(addr))
	}
}

// serveNATS runs a NATS server on addr until SIGTERM.
func serveNATS(addr string) int {
	host, portStr, err := net.SplitHostPort(addr)
	port, perr := strconv.Atoi(portStr)
	if err != nil || perr != nil {
		fmt.Fprintf(os.Stderr, "nats: bad address %q\n", addr)
		return 2
	}
	return runNATSServer(&server.Options{Host: host, Port: port, NoSigs: true, NoLog: true}, false)
}

// runNATSServer runs a NATS server with opts until SIGTERM or an interrupt
// and returns the process's exit code; logs, when asked for, go to stderr.
func runNATSServer(opts *server.Options, logs bool) int {
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nats: %v\n", err)
		return 1
	}
	if logs {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "nats: not ready in 10s")
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
	return 0
}

// natsProc is an external NATS server for a cluster's -nats.
type natsProc struct {
	t    *testing.T
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// startNATS starts a NATS server process on a free loopback port; cleanup
// kills it.
func startNATS(t *testing.T) *natsProc {
	t.Helper()
	n := &natsProc{t: t, addr: freeAddr(t)}
	n.start()
	t.Cleanup(func() {
		if n.cmd != nil {
			n.cmd.Process.Signal(syscall.SIGCONT) // a stopped one cannot die
			n.kill()
		}
	})
	return n
}

func (n *natsProc) url() string { return "nats://" + n.addr }

// start runs the server (again, on the same port) and waits until it
// greets a client.
func (n *natsProc) start() {
	n.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), natsEnv+"="+n.addr)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("nats process: %v", err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(n.done) }()
	waitFor(n.t, readyTimeout, func() error {
		c, err := net.DialTimeout("tcp", n.addr, time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "INFO ") {
			return fmt.Errorf("no INFO from %s: %q %v", n.addr, line, err)
		}
		return nil
	})
}

// kill ends the server at once, as a crash would, and waits for it.
func (n *natsProc) kill() {
	n.cmd.Process.Kill()
	<-n.done
	n.cmd = nil
}

func (n *natsProc) signal(s syscall.Signal) {
	n.t.Helper()
	if err := n.cmd.Process.Signal(s); err != nil {
		n.t.Fatalf("nats process: %v: %v", s, err)
	}
}

// runningPIDs are the pids of c's workers, checked all running.
func runningPIDs(t *testing.T, c *cluster) []int {
	t.Helper()
	st := c.status()
	for _, w := range st.Workers {
		if w.State != "running" {
			t.Fatalf("worker %d is %s", w.Slot, w.State)
		}
	}
	return workerPIDs(st)
}

// chatAsk sends m and returns the next chat message, or an error.
func chatAsk(c *wsClient, m chatMsg, timeout time.Duration) (chatMsg, error) {
	b, _ := json.Marshal(m)
	if err := c.write(ws.OpText, b); err != nil {
		return chatMsg{}, err
	}
	ev, err := c.readMessage(timeout)
	if err != nil {
		return chatMsg{}, err
	}
	var out chatMsg
	if err := json.Unmarshal(ev.data, &out); err != nil {
		return chatMsg{}, fmt.Errorf("not chat JSON: %q", ev.data)
	}
	return out, nil
}

// saidReaches says text in room from a and reports whether every one of
// to gets it within a few seconds (earlier messages in between skipped).
func saidReaches(a *wsClient, room, text string, to ...*wsClient) error {
	b, _ := json.Marshal(chatMsg{Type: "say", Room: room, Text: text})
	if err := a.write(ws.OpText, b); err != nil {
		return err
	}
	for _, c := range to {
		deadline := time.Now().Add(3 * time.Second)
		for {
			ev, err := c.readMessage(time.Until(deadline))
			if err != nil {
				return fmt.Errorf("client %s: %q not said: %w", c.local, text, err)
			}
			var m chatMsg
			if json.Unmarshal(ev.data, &m) == nil && m.Type == "said" && m.Text == text {
				break
			}
		}
	}
	return nil
}

// TestBusDownAndBack: the cluster's external NATS is killed and comes back
// 10 s later. Throughout, the workers serve their clients' local work; a
// join of a new room during the outage is answered (an error naming the
// bus); afterwards chat resumes in the rooms the workers had (their
// subscriptions restored), new joins work, and no worker exited.
func TestBusDownAndBack(t *testing.T) {
	nats := startNATS(t)
	c := startCluster(t, clusterOpts{count: 2, app: "chat", nats: nats.url()})
	before := runningPIDs(t, c)
	a, b, d := c.dial(), c.dial(), c.dial()
	for _, cl := range []*wsClient{a, b} {
		cl.sendChat(chatMsg{Type: "join", Room: "r", Name: cl.local})
		cl.expectChat("joined")
	}
	a.expectChat("joined") // b's
	must(t, saidReaches(a, "r", "before", a, b))

	nats.kill()
	down := time.Now()
	// A join needing a new subscription is answered, not left hanging.
	m, err := chatAsk(d, chatMsg{Type: "join", Room: "fresh", Name: "d"}, 15*time.Second)
	if err != nil {
		t.Fatalf("join during the outage: %v", err)
	}
	t.Logf("join during the outage answered after %s: %+v", time.Since(down).Round(time.Millisecond), m)
	if m.Type == "error" && !strings.Contains(m.Error, "bus") && !strings.Contains(m.Error, "nats") {
		t.Errorf("join during the outage: error %q does not name the bus", m.Error)
	}
	// Local work goes on for the rest of the outage.
	trips := 0
	for time.Since(down) < 10*time.Second {
		for _, cl := range []*wsClient{a, b} {
			if m, err := chatAsk(cl, chatMsg{Type: "whoami"}, bystanderRTTBound*10); err != nil || m.Type != "you" {
				t.Fatalf("whoami during the outage: %+v %v", m, err)
			}
			trips++
		}
	}
	t.Logf("%d local round trips during the outage", trips)

	nats.start()
	waitFor(t, 30*time.Second, func() error { return saidReaches(a, "r", fmt.Sprint("after ", time.Now().UnixNano()), a, b) })
	// d's worker may reconnect after a's and b's: it says so until then,
	// and the client tries again, as the error asks.
	for m.Type != "joined" {
		waitFor(t, 30*time.Second, func() error {
			if m, err = chatAsk(d, chatMsg{Type: "join", Room: "fresh", Name: "d"}, expectTimeout); err == nil && m.Type != "joined" {
				err = fmt.Errorf("join after the outage: %+v", m)
			}
			return err
		})
	}
	must(t, saidReaches(d, "fresh", "fresh again", d))
	if after := runningPIDs(t, c); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("workers %v became %v: a worker exited", before, after)
	}
}

// TestBusStalled: the cluster's NATS stops answering (SIGSTOP) with its
// connections open, while one client's join waits on it for a new
// subscription. The worker keeps serving its clients' local work within the
// bystander bound (99th percentile; and no trip waits on the bus at all,
// which would take seconds: the stall lasts 5 s), including work that takes
// the hub's lock (a leave is answered directly); once NATS continues, the
// join is answered, chat resumes and no worker exited. One worker, so that
// every client shares the joiner's hub.
func TestBusStalled(t *testing.T) {
	nats := startNATS(t)
	c := startCluster(t, clusterOpts{count: 1, app: "chat", nats: nats.url()})
	before := runningPIDs(t, c)
	clients := c.dialN(4)
	for i, cl := range clients {
		cl.sendChat(chatMsg{Type: "join", Room: "r", Name: fmt.Sprint("c", i)})
		for _, member := range clients[:i+1] {
			member.expectChat("joined")
		}
	}
	joiner, others := clients[0], clients[1:]

	nats.signal(syscall.SIGSTOP)
	joiner.sendChat(chatMsg{Type: "join", Room: "stalled", Name: "c0"})
	others[0].sendChat(chatMsg{Type: "say", Room: "r", Text: "into the stall"})
	var slowest time.Duration
	var rtts []time.Duration
	slowestWhat, trips := "", 0
	// time answers one request of cl with a reply of type want, skipping
	// what the bus may deliver once it is back.
	timed := func(cl *wsClient, req chatMsg, want string) {
		t.Helper()
		t0 := time.Now()
		m, err := chatAsk(cl, req, expectTimeout)
		for err == nil && m.Type != want && m.Type != "error" {
			var ev wsEvent
			if ev, err = cl.readMessage(expectTimeout); err == nil {
				err = json.Unmarshal(ev.data, &m)
			}
		}
		if err != nil || m.Type != want {
			t.Fatalf("%s while the bus is stalled: %+v %v", req.Type, m, err)
		}
		d := time.Since(t0)
		if d > slowest {
			slowest, slowestWhat = d, fmt.Sprintf("%s, trip %d", req.Type, trips)
		}
		rtts = append(rtts, d)
		trips++
	}
	for _, cl := range others[1:] {
		timed(cl, chatMsg{Type: "leave", Room: "r"}, "left")
	}
	for start := time.Now(); time.Since(start) < 5*time.Second; {
		for _, cl := range others {
			timed(cl, chatMsg{Type: "whoami"}, "you")
		}
	}
	slices.Sort(rtts)
	p99 := rtts[len(rtts)*99/100]
	t.Logf("%d local round trips while the bus is stalled: 99th percentile %s (bound %s), slowest %s (%s; bound 1s)",
		trips, p99, bystanderRTTBound, slowest, slowestWhat)
	if p99 > bystanderRTTBound || slowest > time.Second {
		t.Errorf("local round trips while the bus was stalled: 99th percentile %s (bound %s), slowest %s (bound 1s)", p99, bystanderRTTBound, slowest)
	}

	nats.signal(syscall.SIGCONT)
	m := joiner.nextChat() // its own joined for "stalled", or an error; the bus's backlog may come first
	for m.Type != "joined" && m.Type != "error" {
		m = joiner.nextChat()
	}
	t.Logf("the join made during the stall: %+v", m)
	waitFor(t, 30*time.Second, func() error {
		return saidReaches(others[0], "r", fmt.Sprint("after ", time.Now().UnixNano()), others[0], joiner)
	})
	if after := runningPIDs(t, c); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("workers %v became %v: a worker exited", before, after)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
