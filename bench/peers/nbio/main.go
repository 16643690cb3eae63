// Command nbio is the benchmark's nbio peer, written the way nbio's examples
// are: an nbhttp.Engine (epoll, non-blocking mode) with a websocket.Upgrader
// and default buffers. It echoes every message, and a text message
// "BROADCAST <payload>" makes it send <payload> to every other connection.
package main

import (
	"bytes"
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to accept on")
	flag.Parse()

	var mu sync.Mutex
	conns := make(map[*websocket.Conn]struct{})
	u := websocket.NewUpgrader()
	u.CheckOrigin = func(*http.Request) bool { return true }
	u.KeepaliveTime = 10 * time.Minute // the default 2 min would cut idle benchmark clients
	u.OnOpen(func(c *websocket.Conn) {
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
	})
	u.OnClose(func(c *websocket.Conn, _ error) {
		mu.Lock()
		delete(conns, c)
		mu.Unlock()
	})
	u.OnMessage(func(c *websocket.Conn, mt websocket.MessageType, data []byte) {
		p, ok := bytes.CutPrefix(data, []byte("BROADCAST "))
		if !ok || mt != websocket.TextMessage {
			_ = c.WriteMessage(mt, data)
			return
		}
		mu.Lock()
		all := make([]*websocket.Conn, 0, len(conns))
		for o := range conns {
			all = append(all, o)
		}
		mu.Unlock()
		for _, o := range all {
			if o != c {
				_ = o.WriteMessage(websocket.TextMessage, p) // safe concurrently; a dead conn closes itself
			}
		}
	})

	engine := nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{*listen},
		ReleaseWebsocketPayload: true,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = u.Upgrade(w, r, nil)
		}),
	})
	if err := engine.Start(); err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = engine.Shutdown(sctx)
}
