package hub

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// registry reads a test worker's gateway, made after its hub.
type registry struct{ w *worker }

func (r registry) Lookup(id string) *gateway.Conn { return r.w.gw.Lookup(id) }
func (r registry) Len() int                       { return r.w.gw.Len() }

// worker is one in-process worker: a gateway, a bus connection, a hub.
type worker struct {
	id   bus.WorkerID
	hub  *Hub
	gw   *gateway.Server
	addr string
	name string // the bus connection's name, to find it in Connz
	open chan *gateway.Conn
}

type hooks struct{ w *worker }

func (h hooks) OnOpen(c *gateway.Conn) error             { h.w.open <- c; return nil }
func (h hooks) OnMessage(*gateway.Conn, gateway.Message) {}
func (h hooks) OnClose(c *gateway.Conn, _ int, _ string) { h.w.hub.Remove(c) }

// cluster starts an embedded NATS server and n workers on it.
func cluster(t testing.TB, n int) (*bus.Embedded, []*worker) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	e, err := bus.StartEmbedded(bus.EmbeddedOptions{Listen: "127.0.0.1:0"}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e, workersOn(t, e.ClientURL(), n, Options{})
}

// workersOn starts n workers on the NATS server at url; opts gives the
// hubs' options beyond their identity and bus.
func workersOn(t testing.TB, url string, n int, opts Options) []*worker {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	var workers []*worker
	for i := 0; i < n; i++ {
		w := &worker{id: bus.WorkerID{Node: "n1", PID: 1000 + i}, open: make(chan *gateway.Conn, 16), name: fmt.Sprintf("w%d", i)}
		bc, err := bus.Connect(context.Background(), bus.Options{URL: url, Name: w.name, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		o := opts
		o.Self, o.Bus, o.QueryTimeout, o.Conns = w.id, bc, 2*time.Second, registry{w}
		if o.Log == nil {
			o.Log = log
		}
		w.hub = New(o)
		if err := w.hub.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		// The test clients read nothing unless told to, so they answer no
		// ping: no pings, no idle timeout, or a test running past a minute
		// (a fuzzer's) loses its connections.
		w.gw = gateway.New(gateway.Options{IDPrefix: w.id.String() + "-", PingInterval: -1, IdleTimeout: -1}, hooks{w}, log)
		if _, err := bc.SubscribeAll(func(m bus.Message) { w.gw.Broadcast(opOf(m.Binary), m.Data, m.Exclude) }); err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		w.addr = ln.Addr().String()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { w.gw.Serve(ctx, ln); close(done) }()
		t.Cleanup(func() {
			cancel()
			<-done
			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			w.gw.Shutdown(sctx, ws.StatusGoingAway, "test over")
			w.hub.Stop()
			bc.Close(sctx)
		})
		workers = append(workers, w)
	}
	// Every worker knows every other before the test asks anything.
	waitFor(t, func() bool {
		for _, w := range workers {
			if len(w.hub.peers.Live()) != n {
				return false
			}
		}
		return true
	})
	return workers
}

type client struct {
	nc   net.Conn
	conn *gateway.Conn // the server side, for Join/Bind
}

func (w *worker) dial(t testing.TB) client {
	t.Helper()
	nc, _, _, err := ws.Dial(context.Background(), "ws://"+w.addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return client{nc: nc, conn: <-w.open}
}

func (c client) expect(t *testing.T, want string) {
	t.Helper()
	data, err := wsutil.ReadServerText(c.nc)
	if err != nil || string(data) != want {
		t.Fatalf("got %q %v, want %q", data, err, want)
	}
}

// expectNothing checks that nothing more arrives: a marker sent to the
// connection afterwards is the next message.
func (c client) expectNothing(t *testing.T, h *Hub) {
	t.Helper()
	if err := h.SendTo(c.conn.ID(), app.Text("marker")); err != nil {
		t.Fatal(err)
	}
	c.expect(t, "marker")
}

func TestEveryCallAcrossFourWorkers(t *testing.T) {
	_, ws4 := cluster(t, 4)
	a, b, c, d := ws4[0], ws4[1], ws4[2], ws4[3]
	ca, cb, cc, cd := a.dial(t), b.dial(t), c.dial(t), d.dial(t)
	cd2 := d.dial(t)
	ctx := context.Background()

	// All.
	if err := a.hub.Broadcast(app.Text("all")); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []client{ca, cb, cc, cd, cd2} {
		cl.expect(t, "all")
	}

	// Rooms: members on b and d; a sends; the sender's exclusion works.
	must(t, b.hub.Join(cb.conn, "lobby"))
	must(t, d.hub.Join(cd.conn, "lobby"))
	must(t, a.hub.SendToRoom("lobby", app.Text("to lobby"), ""))
	cb.expect(t, "to lobby")
	cd.expect(t, "to lobby")
	must(t, d.hub.SendToRoom("lobby", app.Text("from d"), cd.conn.ID()))
	cb.expect(t, "from d")
	cd.expectNothing(t, d.hub)
	for _, cl := range []client{ca, cc, cd2} {
		cl.expectNothing(t, a.hub)
	}
	if n, err := c.hub.RoomCount(ctx, "lobby"); err != nil || n != 2 {
		t.Fatalf("RoomCount = %d, %v", n, err)
	}

	// Users: one user, two connections on two workers.
	must(t, a.hub.Bind(ca.conn, "alice"))
	must(t, c.hub.Bind(cc.conn, "alice"))
	must(t, b.hub.SendToUser("alice", app.Binary([]byte("hi alice"))))
	for _, cl := range []client{ca, cc} {
		data, op, err := wsutil.ReadServerData(cl.nc)
		if err != nil || op != ws.OpBinary || string(data) != "hi alice" {
			t.Fatalf("user message: %v %q %v", op, data, err)
		}
	}
	if n, err := d.hub.UserConnections(ctx, "alice"); err != nil || n != 2 {
		t.Fatalf("UserCount = %d, %v", n, err)
	}
	must(t, c.hub.Unbind(cc.conn))
	if n, _ := d.hub.UserConnections(ctx, "alice"); n != 1 {
		t.Fatalf("UserCount after unbind = %d", n)
	}
	if n, _ := d.hub.UserConnections(ctx, "bob"); n != 0 {
		t.Fatalf("UserCount of nobody = %d", n)
	}

	// Members, with their users; Count; Online.
	must(t, a.hub.Join(ca.conn, "lobby"))
	got, err := c.hub.RoomMembers(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	want := []app.Member{{ConnID: ca.conn.ID(), UID: "alice"}, {ConnID: cb.conn.ID()}, {ConnID: cd.conn.ID()}}
	sort.Slice(want, func(i, j int) bool { return want[i].ConnID < want[j].ConnID })
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("RoomMembers = %v, want %v", got, want)
	}
	if n, err := b.hub.ConnectionCount(ctx); err != nil || n != 5 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if ok, err := a.hub.IsOnline(ctx, cd2.conn.ID()); err != nil || !ok {
		t.Fatalf("Online(live) = %v, %v", ok, err)
	}

	// One connection, then close one by id from another worker.
	must(t, a.hub.SendTo(cc.conn.ID(), app.Text("just you")))
	cc.expect(t, "just you")
	must(t, b.hub.CloseConn(cd2.conn.ID(), 4000, "kicked"))
	f, err := ws.ReadFrame(cd2.nc)
	if err != nil || f.Header.OpCode != ws.OpClose {
		t.Fatalf("kick: %v %v", f.Header.OpCode, err)
	}
	if code, reason := ws.ParseCloseFrameData(f.Payload); code != 4000 || reason != "kicked" {
		t.Fatalf("kick close %d %q", code, reason)
	}
	cd2.nc.Close()
	waitFor(t, func() bool { ok, _ := a.hub.IsOnline(ctx, cd2.conn.ID()); return !ok })

	// Leave, and a closed member leaves every room.
	must(t, b.hub.Leave(cb.conn, "lobby"))
	cd.nc.Close()
	waitFor(t, func() bool { n, _ := a.hub.RoomCount(ctx, "lobby"); return n == 1 })
	if _, ok := d.hub.rooms["lobby"]; ok {
		t.Fatal("worker d still subscribed to lobby with no member")
	}
}

// TestRoomTrafficOnlyWhereMembersAre counts, in the NATS server, the
// messages each worker's connection receives: room messages go only to the
// workers that hold a member.
func TestRoomTrafficOnlyWhereMembersAre(t *testing.T) {
	e, ws4 := cluster(t, 4)
	member := ws4[1].dial(t)
	must(t, ws4[1].hub.Join(member.conn, "quiet"))
	before := outMsgs(t, e.Server())
	const n = 200
	for i := 0; i < n; i++ {
		must(t, ws4[0].hub.SendToRoom("quiet", app.Text("m"), ""))
	}
	for i := 0; i < n; i++ {
		member.expect(t, "m")
	}
	after := outMsgs(t, e.Server())
	for _, w := range ws4 {
		delta := after[w.name] - before[w.name]
		// Heartbeats (one a second from each worker) are the only other
		// traffic; far fewer than n in the time this takes.
		if w == ws4[1] && delta < n || w != ws4[1] && delta >= n/4 {
			t.Errorf("%s received %d messages during %d room messages", w.name, delta, n)
		}
	}
}

func outMsgs(t *testing.T, s *server.Server) map[string]int64 {
	t.Helper()
	cz, err := s.Connz(&server.ConnzOptions{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range cz.Conns {
		out[c.Name] = c.OutMsgs
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseConnCodes: a backend's close reaches the client as a close
// frame a client accepts, whatever code it asked for: a valid one as given,
// none as 1000, and one that may not be sent (reserved, out of range, or a
// Wsfleet-Close header that is not a number, -1) as 1011.
func TestCloseConnCodes(t *testing.T) {
	_, ws2 := cluster(t, 2)
	a, b := ws2[0], ws2[1]
	for _, c := range []struct {
		code int
		want ws.StatusCode
	}{
		{4000, 4000},
		{0, 1000},
		{1006, 1011},
		{70000, 1011},
		{-1, 1011},
	} {
		cl := b.dial(t)
		must(t, a.hub.CloseConn(cl.conn.ID(), c.code, "bye"))
		f, err := ws.ReadFrame(cl.nc)
		if err != nil || f.Header.OpCode != ws.OpClose {
			t.Fatalf("CloseConn(%d): opcode %v, %v", c.code, f.Header.OpCode, err)
		}
		if code, reason := ws.ParseCloseFrameData(f.Payload); code != c.want || reason != "bye" {
			t.Errorf("CloseConn(%d): close %d %q, want %d \"bye\"", c.code, code, reason, c.want)
		}
		cl.nc.Close()
	}
}
