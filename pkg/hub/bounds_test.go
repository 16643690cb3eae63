package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// natsServer runs a NATS server on addr ("127.0.0.1:0" for any port) with
// the given max_payload (0: the server's 1 MB).
func natsServer(t testing.TB, addr string, maxPayload int32) *server.Server {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var p int
	fmt.Sscan(port, &p)
	if p == 0 {
		p = -1
	}
	s, err := server.NewServer(&server.Options{Host: host, Port: p, MaxPayload: maxPayload, NoSigs: true, NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}

// TestMaxRooms: a connection in MaxRooms rooms is refused another, with
// ErrTooManyRooms and nothing changed; after leaving one it may join again.
func TestMaxRooms(t *testing.T) {
	s := natsServer(t, "127.0.0.1:0", 0)
	w := workersOn(t, s.ClientURL(), 1, Options{MaxRooms: 3})[0]
	c := w.dial(t)
	for i := range 3 {
		must(t, w.hub.Join(c.conn, fmt.Sprint("r", i)))
	}
	must(t, w.hub.Join(c.conn, "r1")) // already in: no new room
	if err := w.hub.Join(c.conn, "r3"); !errors.Is(err, ErrTooManyRooms) {
		t.Fatalf("fourth room: %v, want ErrTooManyRooms", err)
	}
	if n := len(w.hub.ConnRooms(c.conn)); n != 3 {
		t.Fatalf("in %d rooms after a refused join", n)
	}
	if _, ok := w.hub.rooms["r3"]; ok {
		t.Fatal("a refused join left a subscription")
	}
	must(t, w.hub.Leave(c.conn, "r0"))
	must(t, w.hub.Join(c.conn, "r3"))
}

// TestPresenceInPieces: with a server whose max_payload is 4 KiB, every
// worker's answer is larger than one message; the member list is still
// complete, and RoomUsers pages through every name once, in order.
func TestPresenceInPieces(t *testing.T) {
	s := natsServer(t, "127.0.0.1:0", 4096)
	ws2 := workersOn(t, s.ClientURL(), 2, Options{})
	var want []string
	for i := range 80 {
		w := ws2[i%2]
		c := w.dial(t)
		uid := fmt.Sprintf("%03d-%s", i, strings.Repeat("x", 60))
		want = append(want, uid)
		must(t, w.hub.Bind(c.conn, uid))
		must(t, w.hub.Join(c.conn, "big"))
	}
	ctx := context.Background()
	ms, err := ws2[0].hub.RoomMembers(ctx, "big")
	if err != nil || len(ms) != len(want) {
		t.Fatalf("RoomMembers: %d members, %v; want %d", len(ms), err, len(want))
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatal("RoomUsers does not end")
		}
		p, err := ws2[1].hub.RoomUsers(ctx, "big", after, 7)
		if err != nil {
			t.Fatal(err)
		}
		if p.Count != len(want) || len(p.Users) > 7 {
			t.Fatalf("page after %q: count %d, %d users", after, p.Count, len(p.Users))
		}
		got = append(got, p.Users...)
		if !p.More {
			break
		}
		after = p.Users[len(p.Users)-1]
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged users:\n%v\nwant\n%v", got, want)
	}
}

// TestJoinDuringOutage: with the NATS server down, a join that needs a new
// subscription answers at once with ErrBusDown, and one into a room the
// worker has succeeds; once the server is back, the rooms the worker had
// get their messages again and new joins work.
func TestJoinDuringOutage(t *testing.T) {
	s := natsServer(t, "127.0.0.1:0", 0)
	addr := s.Addr().String()
	w := workersOn(t, s.ClientURL(), 1, Options{})[0]
	a, b, c := w.dial(t), w.dial(t), w.dial(t)
	must(t, w.hub.Join(a.conn, "kept"))
	s.Shutdown()
	s.WaitForShutdown()
	waitFor(t, func() bool { return !w.hub.opts.Bus.Connected() })

	if err := w.hub.Join(b.conn, "new"); !errors.Is(err, ErrBusDown) {
		t.Fatalf("join of a new room during the outage: %v, want ErrBusDown", err)
	}
	if rs := w.hub.ConnRooms(b.conn); len(rs) != 0 {
		t.Fatalf("a refused join left rooms %v", rs)
	}
	must(t, w.hub.Join(c.conn, "kept"))

	natsServer(t, addr, 0)
	waitFor(t, func() bool { return w.hub.opts.Bus.Connected() })
	must(t, w.hub.Join(b.conn, "new"))
	// The client library restored the old subscription on reconnection.
	waitFor(t, func() bool {
		must(t, w.hub.SendToRoom("kept", app.Text("back"), ""))
		return w.hub.opts.Bus.Flush(context.Background()) == nil
	})
	a.expect(t, "back")
	c.expect(t, "back")
	must(t, w.hub.SendToRoom("new", app.Text("new"), ""))
	b.expect(t, "new")
}

// TestJoinDoesNotHoldTheLock: while the bus does not answer (a proxy in
// front of it stops forwarding), a join that waits for its subscription
// holds up nothing else: joins of rooms the worker has, leaves, closes and
// presence answers all return.
func TestJoinDoesNotHoldTheLock(t *testing.T) {
	s := natsServer(t, "127.0.0.1:0", 0)
	p := startProxy(t, s.Addr().String())
	w := workersOn(t, "nats://"+p.addr, 1, Options{})[0]
	a, b, c := w.dial(t), w.dial(t), w.dial(t)
	must(t, w.hub.Join(a.conn, "lobby"))

	p.pause()
	joined := make(chan error, 1)
	go func() { joined <- w.hub.Join(b.conn, "stalled") }()
	// The stalled join is registered, waiting on its subscription.
	waitFor(t, func() bool {
		w.hub.mu.RLock()
		defer w.hub.mu.RUnlock()
		g := w.hub.rooms["stalled"]
		return g != nil && g.state == subscribing
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		must(t, w.hub.Join(c.conn, "lobby"))
		_ = w.hub.ConnRooms(a.conn)
		_ = w.hub.answer([]byte(`{"kind":"room","name":"lobby","list":true}`), 1<<20)
		must(t, w.hub.Leave(c.conn, "lobby"))
		w.hub.Remove(c.conn)
	}()
	select {
	case <-done:
	case err := <-joined:
		t.Fatalf("the stalled join returned first: %v", err)
	}
	p.resume()
	if err := <-joined; err != nil {
		t.Fatalf("the stalled join, once the bus answered: %v", err)
	}
}

// proxy forwards TCP to a NATS server and can stop forwarding, as a stalled
// server would: the connection stays up, nothing comes back.
type proxy struct {
	addr   string
	mu     sync.Mutex
	cond   *sync.Cond
	paused bool
}

func startProxy(t *testing.T, upstream string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	p.cond = sync.NewCond(&p.mu)
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); p.resume(); wg.Wait() })
	wg.Go(func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", upstream)
			if err != nil {
				down.Close()
				continue
			}
			t.Cleanup(func() { down.Close(); up.Close() })
			wg.Go(func() { p.copy(up, down) })
			wg.Go(func() { p.copy(down, up) })
		}
	})
	return p
}

func (p *proxy) copy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		for p.paused {
			p.cond.Wait()
		}
		p.mu.Unlock()
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) pause() { p.mu.Lock(); p.paused = true; p.mu.Unlock() }
func (p *proxy) resume() {
	p.mu.Lock()
	p.paused = false
	p.mu.Unlock()
	p.cond.Broadcast()
}

// TestUsersPage: the page a worker answers (the limit smallest distinct
// user ids after a cursor) against a naive oracle that sorts them all.
func TestUsersPage(t *testing.T) {
	h := New(Options{})
	g := &group{members: map[*gateway.Conn]struct{}{}}
	rng := rand.New(rand.NewPCG(1, 2))
	var uids []string
	for i := range 500 {
		c := &gateway.Conn{}
		uid := ""
		if i%7 != 0 { // some members are bound to no one
			uid = fmt.Sprint("u", rng.IntN(300)) // and some share a user
			uids = append(uids, uid)
		}
		g.members[c] = struct{}{}
		h.state[c] = &membership{uid: uid}
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	for _, after := range []string{"", "u1", "u150", "u5", "u99", "z"} {
		for _, limit := range []int{1, 7, 100, 1000} {
			var want []string
			for _, u := range uids {
				if u > after {
					want = append(want, u)
				}
			}
			more := len(want) > limit
			want = want[:min(limit, len(want))]
			got, gotMore := h.usersLocked(g, after, limit)
			if fmt.Sprint(got) != fmt.Sprint(want) || gotMore != more {
				t.Errorf("after %q limit %d: %v %v, want %v %v", after, limit, got, gotMore, want, more)
			}
		}
	}
}
