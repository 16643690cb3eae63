package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// Multi-host tests run each host's master in a network namespace of its
// own, made by the test (ip netns, veth to a bridge in a "switch"
// namespace), with its own address in 10.77.0.0/24, which exists only in
// those namespaces. They need root and iproute2, which CI has; without
// them they fail, saying so.

// netHosts is a set of test hosts on one virtual switch.
type netHosts struct {
	t      *testing.T
	prefix string
	n      int
	routes *routeCA // the routes' password, CA and certificates (issue 11)
}

func (h *netHosts) ns(i int) string { return fmt.Sprintf("%sh%d", h.prefix, i) }
func (h *netHosts) ip(i int) string { return fmt.Sprintf("10.77.0.%d", i) }

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// newNetHosts creates n hosts, 10.77.0.1 … 10.77.0.n, and removes them when
// the test ends.
func newNetHosts(t *testing.T, n int) *netHosts {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("multi-host tests need root (network namespaces); CI runs as root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Fatalf("multi-host tests need iproute2's ip: %v", err)
	}
	h := &netHosts{t: t, prefix: fmt.Sprintf("wsf%d", os.Getpid()%100000), n: n, routes: newRouteCA(t)}
	sw := h.prefix + "sw"
	ipCmd(t, "netns", "add", sw)
	t.Cleanup(func() {
		for i := 1; i <= n; i++ {
			exec.Command("ip", "netns", "del", h.ns(i)).Run()
		}
		exec.Command("ip", "netns", "del", sw).Run()
	})
	ipCmd(t, "-n", sw, "link", "add", "br0", "type", "bridge")
	ipCmd(t, "-n", sw, "link", "set", "br0", "up")
	for i := 1; i <= n; i++ {
		ns, port := h.ns(i), fmt.Sprintf("p%d", i)
		ipCmd(t, "netns", "add", ns)
		ipCmd(t, "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", sw)
		ipCmd(t, "-n", ns, "addr", "add", h.ip(i)+"/24", "dev", "eth0")
		ipCmd(t, "-n", ns, "link", "set", "lo", "up")
		ipCmd(t, "-n", ns, "link", "set", "eth0", "up")
		ipCmd(t, "-n", sw, "link", "set", port, "master", "br0")
		ipCmd(t, "-n", sw, "link", "set", port, "up")
	}
	return h
}

// dialFrom returns a dialer whose sockets live in host i's namespace: it
// dials on a goroutine locked to a thread that entered the namespace, and
// lets that thread end with the goroutine.
func (h *netHosts) dialFrom(i int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	path := "/var/run/netns/" + h.ns(i)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread exits with us
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				ch <- result{nil, err}
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				ch <- result{nil, err}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// dialWS opens a WebSocket client from host from to host to.
func (h *netHosts) dialWS(from, to int) *wsClient {
	h.t.Helper()
	c, err := tryDialWSURL(ws.Dialer{NetDial: h.dialFrom(from)}, "ws://"+h.ip(to)+":8080/")
	if err != nil {
		h.t.Fatalf("dial host %d from host %d: %v", to, from, err)
	}
	c.t = h.t
	h.t.Cleanup(c.close)
	return c
}

// hostMaster is one host's master, run in its namespace.
type hostMaster struct {
	pidFile string
	cmd     *exec.Cmd
	done    chan struct{}
	out     string
}

// start runs `master start` on host i, clustered with every other host
// over routes with a password and TLS, as the README's example, and waits
// until its workers run.
func (h *netHosts) start(i int, app string, extra ...string) *hostMaster {
	t := h.t
	t.Helper()
	dir := t.TempDir()
	m := &hostMaster{pidFile: filepath.Join(dir, "master.pid"), done: make(chan struct{}), out: filepath.Join(dir, "master.out")}
	var routes []string
	for j := 1; j <= h.n; j++ {
		routes = append(routes, "nats://"+h.ip(j)+":6222")
	}
	args := append([]string{"netns", "exec", h.ns(i), masterBin, "start",
		"-count", "2", "-app", app, "-node", fmt.Sprintf("h%d", i),
		"-listen", h.ip(i) + ":8080", "-nats-listen", h.ip(i) + ":4222",
		"-cluster-listen", h.ip(i) + ":6222", "-routes", strings.Join(routes, ","),
		"-pid-file", m.pidFile, "-nats-backend-password-file", backendSecretFile()}, h.routes.flags(h.ip(i))...)
	args = append(args, extra...)
	return h.run(i, m, args)
}

// run runs host i's master with the `ip netns exec` arguments args,
// stops it when the test ends, and waits until its workers run.
func (h *netHosts) run(i int, m *hostMaster, args []string) *hostMaster {
	t := h.t
	t.Helper()
	out, err := os.Create(m.out)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	m.cmd = exec.Command("ip", args...)
	m.cmd.Stdout, m.cmd.Stderr = out, out
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.cmd.Wait(); close(m.done) }()
	t.Cleanup(func() {
		select {
		case <-m.done:
		default:
			runCLI(cliTimeout, "stop", "-pid-file", m.pidFile)
			select {
			case <-m.done:
			case <-time.After(30 * time.Second):
				m.cmd.Process.Kill()
				t.Errorf("host %d: master did not stop", i)
			}
		}
		if t.Failed() {
			t.Logf("==== host %d ====\n%s", i, tail(m.out))
		}
	})
	waitFor(t, readyTimeout, func() error {
		st, err := queryStatus(m.pidFile)
		if err != nil {
			return err
		}
		return allRunning(st, 2)
	})
	return m
}

// kill ends host i's master without a word, as a host dying would; its
// workers follow (their control connections close).
func (m *hostMaster) kill(t *testing.T) (killed time.Time) {
	st, err := queryStatus(m.pidFile)
	if err != nil {
		t.Fatal(err)
	}
	killed = time.Now() // after the status query, which may take a while on a busy machine
	syscall.Kill(st.Master.PID, syscall.SIGKILL)
	<-m.done
	waitFor(t, 15*time.Second, func() error {
		for _, w := range st.Workers {
			if processAlive(w.PID) {
				return fmt.Errorf("worker %d still alive", w.PID)
			}
		}
		return nil
	})
	os.Remove(m.pidFile)
	return killed
}

// TestThreeHostsChat: three hosts, two clients each, one room. Every message
// said on one host reaches every member on every host exactly once and in
// each sender's order; a whisper finds its user on another host; when a
// host dies, its clients leave the members list.
func TestThreeHostsChat(t *testing.T) {
	h := newNetHosts(t, 3)
	var hosts []*hostMaster
	for i := 1; i <= 3; i++ {
		hosts = append(hosts, h.start(i, "chat"))
	}
	names := []string{"a1", "a2", "b1", "b2", "c1", "c2"}
	var clients []*wsClient
	for i := range names {
		host := i/2 + 1
		clients = append(clients, h.dialWS(host, host))
	}
	// Joins: wait until each sees every join, in any order (routes settle).
	for i, cl := range clients {
		cl.sendChat(chatMsg{Type: "join", Room: "world", Name: names[i]})
		cl.expectChat("joined")
	}
	waitFor(t, 15*time.Second, func() error {
		clients[0].sendChat(chatMsg{Type: "members", Room: "world"})
		m := clients[0].expectChat("members", "joined")
		if len(m.Names) != len(names) {
			return fmt.Errorf("members %v", m.Names)
		}
		return nil
	})
	const each = 5
	for k := 0; k < each; k++ {
		for i, cl := range clients {
			cl.sendChat(chatMsg{Type: "say", Room: "world", Text: fmt.Sprintf("%s %d", names[i], k)})
		}
	}
	for j, cl := range clients {
		next := map[string]int{}
		for n := 0; n < each*len(names); n++ {
			m := cl.expectChat("said", "joined", "members")
			var seq int
			fmt.Sscanf(strings.TrimPrefix(m.Text, m.From+" "), "%d", &seq)
			if seq != next[m.From] {
				t.Fatalf("%s got %q from %s, want number %d", names[j], m.Text, m.From, next[m.From])
			}
			next[m.From]++
		}
	}
	clients[0].sendChat(chatMsg{Type: "whisper", To: "c2", Text: "across hosts"})
	if m := clients[5].expectChat("whisper"); m.From != "a1" || m.Text != "across hosts" {
		t.Fatalf("whisper %+v", m)
	}
	// Host 1 dies: its two clients leave the members list.
	hosts[0].kill(t)
	waitFor(t, 15*time.Second, func() error {
		clients[2].sendChat(chatMsg{Type: "members", Room: "world"})
		m := clients[2].expectChat("members", "left")
		if fmt.Sprint(m.Names) != "[b1 b2 c1 c2]" {
			return fmt.Errorf("members %v", m.Names)
		}
		return nil
	})
}

// TestThreeHostsPushFailover: the push reaches every client on every host
// exactly once per tick; when the leading host dies, another goes on within
// two intervals.
func TestThreeHostsPushFailover(t *testing.T) {
	const interval = 2 * time.Second
	h := newNetHosts(t, 3)
	var hosts []*hostMaster
	for i := 1; i <= 3; i++ {
		hosts = append(hosts, h.start(i, "push", "-push-interval", interval.String()))
	}
	var clients []*wsClient
	for i := 1; i <= 3; i++ {
		for k := 0; k < 3; k++ {
			clients = append(clients, h.dialWS(i, i))
		}
	}
	ticks := subscribeDistinctTicksVia(t, withBackendCreds("nats://"+h.ip(2)+":4222"), h.dialFrom(2))
	for _, cl := range clients {
		if ev := cl.nextMessage(3 * interval); string(ev.data) != pushText {
			t.Fatalf("first push %q", ev.data)
		}
	}
	ready := time.Now()
	const K = 3
	var ts []tickSeen
	for i := 0; len(ts) < K+2 && i < 100; i++ {
		if tk := waitChan(t, ticks, 3*interval, "push tick"); tk.at.After(ready) {
			ts = append(ts, tk)
		}
	}
	open, shut := midpoint(ts[0].at, ts[1].at), midpoint(ts[K].at, ts[K+1].at)
	for _, cl := range clients {
		if n, err := countPushes(cl, open, shut); err != nil || n != K {
			t.Fatalf("client %s got %d pushes over %d ticks (%v)", cl.local, n, K, err)
		}
	}

	// The leader (h1 sorts first) dies.
	killed := hosts[0].kill(t)
	for _, cl := range clients[3:] {
		for {
			ev := cl.nextMessage(3 * interval)
			if ev.at.After(killed) {
				if gap := ev.at.Sub(killed); gap > 2*interval {
					t.Fatalf("first push %s after the leader died, want within %s", gap, 2*interval)
				}
				break
			}
		}
	}
}
