package adminui

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// TestSlowPageDropped: a page that stops reading its snapshots is dropped
// once a snapshot cannot reach it within liveWriteTimeout, and its place
// among the MaxLive sockets is free again.
func TestSlowPageDropped(t *testing.T) {
	big := strings.Repeat("x", 1<<20) // a 1 MiB snapshot a second fills the buffers quickly
	h, err := New(Options{
		Password: "pw", MaxLive: 1, Logger: slog.New(slog.DiscardHandler),
		API:    http.NotFoundHandler(),
		Source: func(context.Context) ([]Host, error) { return []Host{{Node: big}}, nil },
		Reload: func(context.Context) error { return nil },
		Search: func(context.Context, string) ([]Found, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	srv := httptest.NewServer(h)
	t.Cleanup(func() { h.Close(); srv.Close() })
	cookie := login(t, srv, "pw", true).Cookies()[0]
	d := ws.Dialer{
		Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {cookie.String()}}),
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err == nil {
				c.(*net.TCPConn).SetReadBuffer(4096)
			}
			return c, err
		},
	}
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/admin/live"
	slow, _, _, err := d.Dial(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close() // never read: the slow page
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, _, _, err := d.Dial(context.Background(), u)
		if err == nil {
			c.Close()
			return // the slow page was dropped: its place was free
		}
		if !strings.Contains(err.Error(), "503") {
			t.Fatalf("second live socket: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("a page that reads nothing was never dropped")
		}
		time.Sleep(200 * time.Millisecond) // polling the server's bound; nothing to wait on
	}
}

// TestLiveOutlivesServerTimeouts: the admin listener's read and write
// timeouts are for requests; a live socket goes on past them.
func TestLiveOutlivesServerTimeouts(t *testing.T) {
	h, err := New(Options{
		Password: "pw", Logger: slog.New(slog.DiscardHandler), API: http.NotFoundHandler(),
		Source: func(context.Context) ([]Host, error) { return []Host{{Node: "h1"}}, nil },
		Reload: func(context.Context) error { return nil },
		Search: func(context.Context, string) ([]Found, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.Start()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = time.Second, time.Second
	srv.Start()
	t.Cleanup(func() { h.Close(); srv.Close() })
	cookie := login(t, srv, "pw", true).Cookies()[0]
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Cookie": {cookie.String()}})}
	conn, br, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/admin/live")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var r io.Reader = conn
	if br != nil {
		r = io.MultiReader(br, conn)
	}
	rw := struct {
		io.Reader
		io.Writer
	}{r, conn}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for n := 0; n < 4; n++ { // one a second: past both timeouts
		if _, err := wsutil.ReadServerText(rw); err != nil {
			t.Fatalf("snapshot %d: %v", n, err)
		}
	}
}
