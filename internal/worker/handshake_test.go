package worker

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// seen is what OnOpen read from its connection's Handshake.
type seen struct {
	path, room, custom, cookie, remote, host, protocol string
	value                                              any
}

// reader keeps, in OnOpen, what it reads of the upgrade request, and tells
// on every message whether the connection still holds the request.
type reader struct{ opened chan seen }

func (r reader) OnOpen(c app.Conn) error {
	hs := c.Handshake()
	if hs == nil {
		r.opened <- seen{}
		return nil
	}
	s := seen{path: hs.Path(), room: hs.Query().Get("room"), custom: hs.Header.Get("X-Custom"),
		remote: hs.RemoteAddr, host: hs.Host, protocol: hs.Subprotocol, value: c.Value()}
	if ck, err := hs.Cookie("sid"); err == nil {
		s.cookie = ck.Value
	}
	r.opened <- s
	return nil
}

func (reader) OnMessage(c app.Conn, _ app.Message) {
	held := "dropped"
	if c.Handshake() != nil {
		held = "held"
	}
	c.Send(app.Text(held))
}

func (reader) OnClose(app.Conn, int) {}

// admittingReader is a reader that is also an Admitter: its value and the
// request reach OnOpen together.
type admittingReader struct{ reader }

func (admittingReader) Admit(h *app.Handshake) (any, error) { return "admitted " + h.Path(), nil }

// TestOnOpenReadsTheHandshake: every connection's OnOpen reads its upgrade
// request (path, query, headers, cookies, the address a trusted proxy
// reported, the subprotocol), whether or not the application is an
// Admitter, with a full view (a mailbox) or a lean one (an Inline
// application: the gateway connection itself), over a real gateway on
// loopback; once OnOpen has returned the connection no longer holds it.
func TestOnOpenReadsTheHandshake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		app    func(reader) app.App
		value  any
		inline bool
	}{
		{"app", func(r reader) app.App { return r }, nil, false},
		{"admitter", func(r reader) app.App { return admittingReader{r} }, "admitted /chat", false},
		{"lean app", func(r reader) app.App { return r }, nil, true},
		{"lean admitter", func(r reader) app.App { return admittingReader{r} }, "admitted /chat", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := reader{opened: make(chan seen, 1)}
			a := tc.app(r)
			var wg sync.WaitGroup
			log := slog.New(slog.DiscardHandler)
			h := handler{app: a, hub: hub.New(hub.Options{Log: log}), log: log, wg: &wg, budget: &budget{}, inline: tc.inline}
			adm := &admitter{}
			adm.app, _ = a.(app.Admitter)
			s := gateway.New(gateway.Options{
				Admit:          adm.admit,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
				Subprotocols:   []string{"chat.v1"},
			}, h, log)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			served := make(chan struct{})
			go func() { s.Serve(ctx, ln); close(served) }()
			defer func() {
				cancel()
				<-served
				sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer scancel()
				s.Shutdown(sctx, ws.StatusGoingAway, "")
				wg.Wait()
			}()

			d := ws.Dialer{
				Protocols: []string{"chat.v1"},
				Header: ws.HandshakeHeaderHTTP(http.Header{
					"X-Custom":        {"yes"},
					"Cookie":          {"sid=s3cret; theme=dark"},
					"X-Forwarded-For": {"203.0.113.7"},
				}),
			}
			nc, _, _, err := d.Dial(context.Background(), "ws://"+ln.Addr().String()+"/chat?room=lobby")
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))

			got := <-r.opened
			want := seen{path: "/chat", room: "lobby", custom: "yes", cookie: "s3cret", remote: "203.0.113.7",
				host: ln.Addr().String(), protocol: "chat.v1", value: tc.value}
			if got != want {
				t.Errorf("OnOpen read\n%+v\nwant\n%+v", got, want)
			}
			if err := wsutil.WriteClientText(nc, []byte("still there?")); err != nil {
				t.Fatal(err)
			}
			if data, err := wsutil.ReadServerText(nc); err != nil || string(data) != "dropped" {
				t.Errorf("after OnOpen the connection's Handshake is %q (%v), want dropped", data, err)
			}
		})
	}
}
