package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// Issue 13, point 6: `master status -cluster` lists every host of the
// cluster, gathered over the bus.

type clusterStatusJSON struct {
	Hosts []struct {
		Node          string  `json:"node"`
		PID           int     `json:"pid"`
		Version       string  `json:"version"`
		UptimeSeconds float64 `json:"uptime_seconds"`
		Workers       int     `json:"workers"`
		Count         int     `json:"count"`
		Connections   int     `json:"connections"`
		Leader        bool    `json:"leader"`
		EmbeddedNATS  bool    `json:"embedded_nats"`
		Routes        *struct {
			Connections int      `json:"connections"`
			Peers       []string `json:"peers"`
		} `json:"routes"`
	} `json:"hosts"`
	Expected int `json:"expected"`
}

// queryClusterStatus runs `master status -cluster -json` against pidFile.
func queryClusterStatus(pidFile string) (*clusterStatusJSON, error) {
	out, errOut, code, err := runCLI(cliTimeout, "status", "-cluster", "-json", "-pid-file", pidFile)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("status -cluster exited %d: %s", code, strings.TrimSpace(errOut))
	}
	var cs clusterStatusJSON
	if err := json.Unmarshal([]byte(out), &cs); err != nil {
		return nil, fmt.Errorf("status -cluster -json: %w in %q", err, out)
	}
	return &cs, nil
}

// hostLine is what a test expects of one host's line.
type hostLine struct {
	node   string
	pid    int
	conns  int
	leader bool
	peers  []string
}

// checkCluster compares `status -cluster` with want, host by host, in
// node order.
func checkCluster(cs *clusterStatusJSON, count int, want []hostLine) error {
	if len(cs.Hosts) != len(want) {
		var nodes []string
		for _, h := range cs.Hosts {
			nodes = append(nodes, h.Node)
		}
		return fmt.Errorf("hosts %v, want %d", nodes, len(want))
	}
	for i, w := range want {
		h := cs.Hosts[i]
		switch {
		case h.Node != w.node || h.PID != w.pid:
			return fmt.Errorf("host %d: node %s pid %d, want %s pid %d", i, h.Node, h.PID, w.node, w.pid)
		case h.Workers != count || h.Count != count:
			return fmt.Errorf("%s: %d/%d workers running, want %d", h.Node, h.Workers, h.Count, count)
		case h.Connections != w.conns:
			return fmt.Errorf("%s: %d connections, want %d", h.Node, h.Connections, w.conns)
		case h.Leader != w.leader:
			return fmt.Errorf("%s: leader %v, want %v", h.Node, h.Leader, w.leader)
		case !h.EmbeddedNATS || h.Routes == nil:
			return fmt.Errorf("%s: no embedded NATS routes in its line", h.Node)
		case !slices.Equal(h.Routes.Peers, w.peers):
			return fmt.Errorf("%s: route peers %v, want %v", h.Node, h.Routes.Peers, w.peers)
		case h.UptimeSeconds <= 0:
			return fmt.Errorf("%s: uptime %v", h.Node, h.UptimeSeconds)
		}
	}
	return nil
}

// clusterWindow is the master's gathering window (internal/master).
const clusterWindow = 1500 * time.Millisecond

// TestStatusClusterEmbedded: one host, the default embedded NATS: its one
// line, leading, with its connections; the text table says the same. The
// backend account can neither ask the masters nor see their answers.
func TestStatusClusterEmbedded(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2})
	st := c.status()
	c.dialN(3)
	waitFor(t, 10*time.Second, func() error {
		cs, err := queryClusterStatus(c.pidFile)
		if err != nil {
			return err
		}
		return checkCluster(cs, 2, []hostLine{{node: st.Master.Node, pid: st.Master.PID, conns: 3, leader: true, peers: []string{}}})
	})
	out := c.mustCLI("status", "-cluster")
	mustContain(t, "status -cluster", out, "CLUSTER STATUS", "leader", st.Master.Node, fmt.Sprint(st.Master.PID), "2/2", "yes")

	// The backend account: denied the masters' subjects both ways.
	var mu sync.Mutex
	var denied []string
	nc, err := nats.Connect(st.Master.NATSURL, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		mu.Lock()
		denied = append(denied, err.Error())
		mu.Unlock()
	}))
	if err != nil {
		t.Fatalf("backend connect: %v", err)
	}
	defer nc.Close()
	all, err := nc.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("wsfleet.masters.query", "wsfleet.masters.reply.forged", []byte("status")); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.SubscribeSync("wsfleet.masters.reply.*"); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	waitFor(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		pub, sub := false, false
		for _, d := range denied {
			pub = pub || strings.Contains(d, `Publish to "wsfleet.masters.query"`)
			sub = sub || strings.Contains(d, `Subscription to "wsfleet.masters.reply.*"`)
		}
		if !pub || !sub {
			return fmt.Errorf("permission errors %q: want the publish and the subscription refused", denied)
		}
		return nil
	})
	if _, err := queryClusterStatus(c.pidFile); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	// The `>` subscription saw the masters' heartbeats (it works) and
	// nothing of their query or answers.
	heartbeats := 0
	for end := time.Now().Add(2 * clusterWindow); time.Now().Before(end); {
		m, err := all.NextMsg(time.Until(end))
		if err != nil {
			break
		}
		if strings.HasPrefix(m.Subject, "wsfleet.masters.") {
			t.Errorf("the backend account saw %s: %s", m.Subject, m.Data)
		}
		if m.Subject == "wsfleet.hb.masters" {
			heartbeats++
		}
	}
	if heartbeats == 0 {
		t.Error("the backend's `>` subscription saw no heartbeat: the check above proves nothing")
	}
}

// TestStatusCluster: three hosts with 1, 2 and 3 clients: status -cluster
// on any host lists all three, h1 leading, each with its connections and
// its routes to the other two; once h1 is killed, it disappears and h2
// leads.
func TestStatusCluster(t *testing.T) {
	h := newNetHosts(t, 3)
	var ms []*hostMaster
	var pids []int
	for i := 1; i <= 3; i++ {
		m := h.start(i, "echo")
		st, err := queryStatus(m.pidFile)
		if err != nil {
			t.Fatal(err)
		}
		ms, pids = append(ms, m), append(pids, st.Master.PID)
		for range i {
			h.dialWS(i, i)
		}
	}
	want := []hostLine{
		{node: "h1", pid: pids[0], conns: 1, leader: true, peers: []string{"h2", "h3"}},
		{node: "h2", pid: pids[1], conns: 2, peers: []string{"h1", "h3"}},
		{node: "h3", pid: pids[2], conns: 3, peers: []string{"h1", "h2"}},
	}
	for _, m := range ms {
		waitFor(t, 15*time.Second, func() error {
			cs, err := queryClusterStatus(m.pidFile)
			if err != nil {
				return err
			}
			return checkCluster(cs, 2, want)
		})
	}
	ms[0].kill(t)
	want = []hostLine{
		{node: "h2", pid: pids[1], conns: 2, leader: true, peers: []string{"h3"}},
		{node: "h3", pid: pids[2], conns: 3, peers: []string{"h2"}},
	}
	for _, m := range ms[1:] {
		waitFor(t, 15*time.Second, func() error {
			cs, err := queryClusterStatus(m.pidFile)
			if err != nil {
				return err
			}
			return checkCluster(cs, 2, want)
		})
	}
	out, errOut, code, err := runCLI(cliTimeout, "status", "-cluster", "-pid-file", ms[1].pidFile)
	if err != nil || code != 0 {
		t.Fatalf("status -cluster: %v %d %s", err, code, errOut)
	}
	t.Logf("status -cluster on h2:\n%s", out)
	mustContain(t, "status -cluster", out, "h2", "h3", "2 hosts answered")
	if strings.Contains(out, "h1 ") {
		t.Errorf("the killed host h1 is still listed:\n%s", out)
	}
}
