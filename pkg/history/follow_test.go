package history

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wsfleet/wsfleet/pkg/app"
)

// restartableServer is a JetStream server on a fixed port and store
// directory, so that a new one started after Shutdown is the same server
// to its clients, with the same stream.
type restartableServer struct {
	t    *testing.T
	opts server.Options
	s    *server.Server
}

func newRestartableServer(t *testing.T) *restartableServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	r := &restartableServer{t: t, opts: server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true}}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *restartableServer) start() {
	r.t.Helper()
	opts := r.opts
	s, err := server.NewServer(&opts)
	if err != nil {
		r.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		r.t.Fatal("nats server not ready in 10s")
	}
	r.s = s
}

func (r *restartableServer) stop() {
	if r.s != nil {
		r.s.Shutdown()
		r.s.WaitForShutdown()
		r.s = nil
	}
}

// TestFollowAcrossServerRestart: a follow goes on after its connection's
// server went away and came back (the store starts it again from the
// message after the last it delivered): every message kept after the
// restart arrives once, in order, and none from before it again. Stopping
// the last follow ends the store's watcher.
func TestFollowAcrossServerRestart(t *testing.T) {
	srv := newRestartableServer(t)
	nc, err := nats.Connect(srv.s.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rules, err := ParseRules("*=100,1h")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, nc, Options{Prefix: "t", Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan app.Kept, 100)
	stop, err := st.Follow(ctx, "r", func(k app.Kept) { got <- k })
	if err != nil {
		t.Fatal(err)
	}
	keep := func(text string) {
		t.Helper()
		for {
			_, err := st.Keep(ctx, "r", app.Text(text))
			if err == nil {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("keep %q: %v", text, err)
			}
			time.Sleep(50 * time.Millisecond) // polling a server coming back, bounded by ctx
		}
	}
	expect := func(texts ...string) {
		t.Helper()
		for _, want := range texts {
			select {
			case k := <-got:
				if string(k.Data) != want {
					t.Fatalf("followed %q (offset %d), want %q", k.Data, k.Offset, want)
				}
			case <-ctx.Done():
				t.Fatalf("waiting for %q: %v", want, ctx.Err())
			}
		}
	}
	keep("m1")
	keep("m2")
	expect("m1", "m2")

	reconnected := nc.StatusChanged(nats.CONNECTED)
	srv.stop()
	srv.start()
	select {
	case <-reconnected:
	case <-ctx.Done():
		t.Fatal("the client did not reconnect")
	}
	for i := 3; i <= 6; i++ {
		keep(fmt.Sprintf("m%d", i))
	}
	expect("m3", "m4", "m5", "m6")
	// Nothing more: no message twice. A last one, kept after, is the
	// next to come.
	keep("m7")
	expect("m7")
	select {
	case k := <-got:
		t.Fatalf("followed %q (offset %d) once more", k.Data, k.Offset)
	default:
	}

	stop()
	st.follows.mu.Lock()
	n, watching := len(st.follows.set), st.follows.cancel != nil
	st.follows.mu.Unlock()
	if n != 0 || watching {
		t.Fatalf("after the last follow stopped: %d follows, watcher running %v", n, watching)
	}
}
