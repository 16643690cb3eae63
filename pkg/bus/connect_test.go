package bus

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cuttingProxy forwards connections to a NATS server, except that it cuts
// the first `cut` connections right after the server's INFO, as NATS itself does
// to a client whose CONNECT is later than its authentication timeout.
type cuttingProxy struct {
	ln       net.Listener
	upstream string
	cut      int32
	accepted atomic.Int32
	wg       sync.WaitGroup
}

func startCuttingProxy(t *testing.T, upstream string, cut int32) *cuttingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cuttingProxy{ln: ln, upstream: upstream, cut: cut}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *cuttingProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		n := p.accepted.Add(1)
		p.wg.Go(func() { p.relay(c, n <= p.cut) })
	}
}

func (p *cuttingProxy) relay(c net.Conn, cut bool) {
	defer c.Close()
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	if cut {
		info, err := bufio.NewReader(up).ReadString('\n')
		if err == nil {
			c.Write([]byte(info))
		}
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(up, c); up.Close(); done <- struct{}{} }()
	go func() { io.Copy(c, up); c.Close(); done <- struct{}{} }()
	<-done
	<-done
}

func (p *cuttingProxy) url() string { return "nats://" + p.ln.Addr().String() }

// TestConnectRetriesCutHandshake: a server that closes the connection
// between its INFO and the client's CONNECT (NATS's authentication
// timeout, which CI's loaded machine once hit) costs Connect a retry, not
// its caller an error; a server that keeps cutting gets an error after
// handshakeAttempts tries, not an endless loop.
func TestConnectRetriesCutHandshake(t *testing.T) {
	e := startTestServer(t)
	upstream := e.ClientURL()[len("nats://"):]
	quiet := slog.New(slog.DiscardHandler)

	p := startCuttingProxy(t, upstream, 1)
	c, err := Connect(context.Background(), Options{URL: p.url(), Logger: quiet})
	if err != nil {
		t.Fatalf("one cut handshake: %v", err)
	}
	got := make(chan Message, 1)
	if _, err := c.SubscribeAll(func(m Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	if err := c.PublishAll(Message{Data: []byte("through")}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if string(m.Data) != "through" {
			t.Fatalf("got %q", m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the message published through the proxy never came back")
	}
	c.Close(context.Background())
	if n := p.accepted.Load(); n != 2 {
		t.Fatalf("proxy accepted %d connections, want 2 (one cut, one through)", n)
	}

	always := startCuttingProxy(t, upstream, 1<<30)
	if _, err := Connect(context.Background(), Options{URL: always.url(), Logger: quiet}); err == nil {
		t.Fatal("connected through a server that cuts every handshake")
	}
	if n := always.accepted.Load(); n != handshakeAttempts {
		t.Fatalf("a server cutting every handshake was tried %d times, want %d", n, handshakeAttempts)
	}
}
