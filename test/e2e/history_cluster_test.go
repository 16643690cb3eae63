package e2e

// Room history on an external NATS cluster (issue 14): three hosts in
// network namespaces, each running a NATS server with JetStream clustered
// with the other two by routes, as a user would run them, and a wsfleet
// master with -nats on it and -history-replicas 3.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// natsConfEnv, set to a nats-server configuration file, makes this test
// binary a NATS server run from that file (init below) instead of running
// tests.
const natsConfEnv = "WSFLEET_E2E_NATS_CONF"

func init() {
	if conf := os.Getenv(natsConfEnv); conf != "" {
		os.Exit(serveNATSConf(conf))
	}
}

// serveNATSConf runs a NATS server from the configuration file conf until
// SIGTERM or SIGKILL.
func serveNATSConf(conf string) int {
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nats: %v\n", err)
		return 2
	}
	opts.NoSigs = true
	return runNATSServer(opts, true)
}

// hostNATS is a NATS server process on a test host.
type hostNATS struct {
	cmd  *exec.Cmd
	done chan struct{}
	out  string
}

// natsConf is host i's nats-server configuration: JetStream with its own
// store, routes to every host, as docs/operations.md shows.
func (h *netHosts) natsConf(i int, store string) string {
	var routes []string
	for j := 1; j <= h.n; j++ {
		routes = append(routes, fmt.Sprintf("    nats://%s:6222", h.ip(j)))
	}
	return fmt.Sprintf(`server_name: n%d
logtime: true
listen: %s:4222
jetstream {
  store_dir: %q
}
cluster {
  name: hc
  listen: %s:6222
  routes: [
%s
  ]
}
`, i, h.ip(i), store, h.ip(i), strings.Join(routes, "\n"))
}

// startNATS runs host i's NATS server in its namespace and waits until it
// takes clients.
func (h *netHosts) startNATS(i int) *hostNATS {
	t := h.t
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(h.natsConf(i, filepath.Join(dir, "js"))), 0o600); err != nil {
		t.Fatal(err)
	}
	n := &hostNATS{done: make(chan struct{}), out: filepath.Join(dir, "nats.out")}
	out, err := os.Create(n.out)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// ip netns exec execs the program: the process is the server.
	n.cmd = exec.Command("ip", "netns", "exec", h.ns(i), os.Args[0], "-test.run=^$")
	n.cmd.Env = append(os.Environ(), natsConfEnv+"="+conf)
	n.cmd.Stdout, n.cmd.Stderr = out, out
	// No Pdeathsig: it fires when the thread that started the process
	// exits, and dialFrom's threads do exit.
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("nats process: %v", err)
	}
	go func() { n.cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		n.kill()
		if t.Failed() {
			t.Logf("==== host %d's NATS ====\n%s", i, tail(n.out))
		}
	})
	waitFor(t, readyTimeout, func() error {
		nc, err := nats.Connect(h.natsURL(i), nats.SetCustomDialer(natsDialer(h.dialFrom(i))), nats.MaxReconnects(0))
		if err != nil {
			return err
		}
		nc.Close()
		return nil
	})
	return n
}

// kill ends the server at once, as a host dying would.
func (n *hostNATS) kill() {
	select {
	case <-n.done:
	default:
		n.cmd.Process.Kill()
		<-n.done
	}
}

func (h *netHosts) natsURL(i int) string { return "nats://" + h.ip(i) + ":4222" }

// startOnNATS runs `master start` on host i with -nats: host i's server
// first, then the others, and waits until its workers run.
func (h *netHosts) startOnNATS(i int, app string, extra ...string) *hostMaster {
	t := h.t
	t.Helper()
	urls := []string{h.natsURL(i)}
	for j := 1; j <= h.n; j++ {
		if j != i {
			urls = append(urls, h.natsURL(j))
		}
	}
	return h.startOnURLs(i, urls, app, extra...)
}

// startOnURLs is startOnNATS with the NATS URLs given (the client learns
// the cluster's other servers from the first it reaches).
func (h *netHosts) startOnURLs(i int, urls []string, app string, extra ...string) *hostMaster {
	t := h.t
	t.Helper()
	dir := t.TempDir()
	m := &hostMaster{pidFile: filepath.Join(dir, "master.pid"), done: make(chan struct{}), out: filepath.Join(dir, "master.out")}
	args := append([]string{"netns", "exec", h.ns(i), masterBin, "start",
		"-count", "2", "-app", app, "-node", fmt.Sprintf("h%d", i),
		"-listen", h.ip(i) + ":8080", "-nats", strings.Join(urls, ","),
		"-pid-file", m.pidFile}, extra...)
	return h.run(i, m, args)
}

// historyStream connects to host i's NATS and returns the history
// stream's info.
func (h *netHosts) historyStream(i int) (*jetstream.StreamInfo, error) {
	nc, err := nats.Connect(h.natsURL(i), nats.SetCustomDialer(natsDialer(h.dialFrom(i))), nats.MaxReconnects(0))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "wsfleet_history")
	if err != nil {
		return nil, err
	}
	return st.Info(ctx)
}

// moveStreamLeader asks the history stream's leader to step down in favour
// of host i's server, until it leads.
func (h *netHosts) moveStreamLeader(i int) {
	t := h.t
	t.Helper()
	want := fmt.Sprintf("n%d", i)
	waitFor(t, 30*time.Second, func() error {
		info, err := h.historyStream(i)
		if err != nil {
			return err
		}
		if info.Cluster != nil && info.Cluster.Leader == want {
			return nil
		}
		nc, err := nats.Connect(h.natsURL(i), nats.SetCustomDialer(natsDialer(h.dialFrom(i))), nats.MaxReconnects(0))
		if err != nil {
			return err
		}
		defer nc.Close()
		body, _ := json.Marshal(map[string]any{"placement": map[string]any{"preferred": want}})
		nc.Request("$JS.API.STREAM.LEADER.STEPDOWN.wsfleet_history", body, 5*time.Second)
		return fmt.Errorf("stream leader %v, want %s", info.Cluster, want)
	})
}

// TestChatHistoryExternalCluster: three hosts, each a NATS server with
// JetStream clustered with the others and a master on it with
// -history-replicas 3. The history stream has three replicas. A client on
// host 1 joins a room and keeps its position; host 1 dies (its master and
// its NATS server, which leads the stream); a member on host 2 says
// messages meanwhile; the client dials host 3 and resumes: every message
// once, in order, recovered true, then the live ones.
func TestChatHistoryExternalCluster(t *testing.T) {
	h := newNetHosts(t, 3)
	var servers []*hostNATS
	for i := 1; i <= 3; i++ {
		servers = append(servers, h.startNATS(i))
	}
	// Host 3's processes are given host 1's server alone, the one that
	// dies below (they learn the others from it): their bus connections
	// and their follows of the room then move to another server, which
	// once stalled a follow for good (pkg/history/follow.go).
	var masters []*hostMaster
	for i := 1; i <= 2; i++ {
		masters = append(masters, h.startOnNATS(i, "chat", "-history-replicas", "3"))
	}
	masters = append(masters, h.startOnURLs(3, []string{h.natsURL(1)}, "chat", "-history-replicas", "3"))
	// Each worker opens the history once the JetStream cluster has a
	// leader, and logs it.
	for i, m := range masters {
		waitFor(t, 60*time.Second, func() error {
			b, _ := os.ReadFile(m.out)
			if n := strings.Count(string(b), `msg="room history on"`); n < 2 {
				return fmt.Errorf("host %d: %d workers with history, want 2", i+1, n)
			}
			return nil
		})
	}
	info, err := h.historyStream(2)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("history stream: replicas %d, cluster %+v; want 3 replicas", info.Config.Replicas, info.Cluster)
	}
	h.moveStreamLeader(1)

	a := h.dialWS(1, 1)
	_, j := a.joinHist("lobby", "alice", nil)
	b := h.dialWS(2, 2)
	b.joinHist("lobby", "bob", nil)
	c := h.dialWS(3, 3)
	c.joinHist("lobby", "carol", nil)
	if j.Epoch == "" {
		t.Fatalf("joined on host 1: %+v, want a position", j)
	}
	b.say("lobby", "m", 3)
	seen := a.saidUntil("m3")
	checkSaid(t, seen, texts("m", 1, 3), j.Epoch)
	checkSaid(t, c.saidUntil("m3"), texts("m", 1, 3), j.Epoch)
	b.saidUntil("m3")
	since := histSince{Offset: *seen[2].Offset, Epoch: j.Epoch}

	masters[0].kill(t)
	servers[0].kill()
	a.close()
	const n = 20
	// The stream's leader died with host 1: the first messages wait in
	// the worker's keeper until the other two elect one (seconds).
	killed := time.Now()
	for k := 1; k <= n; k++ {
		text := fmt.Sprintf("x%d", k)
		b.sendHist(histMsg{Type: "say", Room: "lobby", Text: text})
		if m := b.saidWithin(text, 40*time.Second); m.Offset == nil {
			t.Fatalf("said %q while host 1 was down: not kept (%+v)", text, m)
		}
		if k == 1 {
			t.Logf("first message kept %s after host 1 died", time.Since(killed).Round(time.Millisecond))
		}
	}
	// A member on host 3 gets them through its worker's follow of the
	// room, whose server died: the store starts it again on the server
	// its worker reconnected to, after the last message it delivered,
	// once a leader is elected (seconds without a message here).
	followed := time.Now()
	checkSaid(t, c.saidUntilWithin(fmt.Sprintf("x%d", n), 40*time.Second), texts("x", 1, n), j.Epoch)
	t.Logf("host 3's member had them all %s after the last was kept", time.Since(followed).Round(time.Millisecond))

	a2 := h.dialWS(1, 3)
	got, j2 := a2.joinHist("lobby", "alice", &since)
	if j2.Recovered == nil || !*j2.Recovered {
		t.Fatalf("resume on host 3: %+v, want recovered true", j2)
	}
	checkSaid(t, got, texts("x", 1, n), j.Epoch)
	b.say("lobby", "live", 1)
	if m := a2.saidUntil("live1"); len(m) != 1 {
		t.Fatalf("after the resume: %+v, want live1 alone", m)
	}
}

// saidWithin reads messages until the said one with text, waiting up to
// wait for each, and returns it.
func (c *wsClient) saidWithin(text string, wait time.Duration) histMsg {
	c.t.Helper()
	for {
		ev := c.nextMessage(wait)
		var m histMsg
		if err := json.Unmarshal(ev.data, &m); err != nil {
			c.t.Fatalf("not chat JSON: %q", ev.data)
		}
		if m.Type == "said" && m.Text == text {
			return m
		}
		if m.Type != "said" && m.Type != "joined" && m.Type != "left" {
			c.t.Fatalf("waiting for said %q: got %+v", text, m)
		}
	}
}
