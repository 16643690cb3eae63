package worker

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// panicky echoes, and panics on "boom".
type panicky struct{}

func (panicky) OnOpen(app.Conn) error { return nil }
func (panicky) OnMessage(c app.Conn, m app.Message) {
	if string(m.Data) == "boom" {
		panic("boom")
	}
	c.Send(m)
}
func (panicky) OnClose(app.Conn, int) {}

// TestPanicClosesOnlyItsConnection: a panic in a callback closes that
// connection with 1011; the worker and its other connections go on. On
// the poller (inline) and in a mailbox alike.
func TestPanicClosesOnlyItsConnection(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(map[bool]string{true: "inline", false: "mailbox"}[inline], func(t *testing.T) {
			var wg sync.WaitGroup
			log := slog.New(slog.DiscardHandler)
			h := handler{app: panicky{}, hub: hub.New(hub.Options{Log: log}), log: log, inline: inline, wg: &wg, budget: &budget{}}
			s := gateway.New(gateway.Options{}, h, log)
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
			dial := func() net.Conn {
				c, _, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				return c
			}
			a, b := dial(), dial()
			defer a.Close()
			defer b.Close()
			wsutil.WriteClientText(a, []byte("boom"))
			for {
				f, err := ws.ReadFrame(a)
				if err != nil {
					t.Fatalf("no close frame after the panic: %v", err)
				}
				if f.Header.OpCode == ws.OpClose {
					if code, _ := ws.ParseCloseFrameData(f.Payload); code != ws.StatusInternalServerError {
						t.Fatalf("close %d, want 1011", code)
					}
					break
				}
			}
			wsutil.WriteClientText(b, []byte("still here"))
			if data, err := wsutil.ReadServerText(b); err != nil || string(data) != "still here" {
				t.Fatalf("the other connection: %q %v", data, err)
			}
		})
	}
}
