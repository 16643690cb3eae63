// Command gorilla is the benchmark's gorilla/websocket peer, written the way
// the package's examples are: one goroutine per connection reading with
// ReadMessage, default Upgrader buffers. It echoes every message, and a text
// message "BROADCAST <payload>" makes it send <payload> to every other
// connection (encoded once with PreparedMessage, written in turn). With
// -tls-cert and -tls-key it serves wss:// behind crypto/tls (issue 16).
package main

import (
	"bytes"
	"crypto/tls"
	"flag"
	"log"
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

var upgrader = websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}

// client serialises writes: gorilla allows one concurrent writer.
type client struct {
	mu sync.Mutex
	ws *websocket.Conn
}

type hub struct {
	mu    sync.Mutex
	conns map[*client]struct{}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to accept on")
	cert := flag.String("tls-cert", "", "serve wss:// behind crypto/tls with this certificate (PEM; with -tls-key)")
	key := flag.String("tls-key", "", "the private key of -tls-cert (PEM)")
	flag.Parse()
	h := &hub{conns: make(map[*client]struct{})}
	if (*cert == "") != (*key == "") {
		log.Fatal("gorilla: -tls-cert and -tls-key go together")
	}
	if *cert == "" {
		log.Fatal(http.ListenAndServe(*listen, http.HandlerFunc(h.serve)))
	}
	// TLS 1.3 only; session tickets are on, as crypto/tls has them by
	// default (one process: every ticket it issued resumes).
	srv := &http.Server{Addr: *listen, Handler: http.HandlerFunc(h.serve),
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}}
	log.Fatal(srv.ListenAndServeTLS(*cert, *key))
}

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &client{ws: ws}
	h.mu.Lock()
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		ws.Close()
	}()
	for {
		mt, msg, err := ws.ReadMessage()
		if err != nil {
			return
		}
		if p, ok := bytes.CutPrefix(msg, []byte("BROADCAST ")); ok && mt == websocket.TextMessage {
			h.broadcast(c, p)
			continue
		}
		c.mu.Lock()
		err = ws.WriteMessage(mt, msg)
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (h *hub) broadcast(from *client, p []byte) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, p)
	if err != nil {
		return
	}
	h.mu.Lock()
	all := make([]*client, 0, len(h.conns))
	for c := range h.conns {
		all = append(all, c)
	}
	h.mu.Unlock()
	for _, c := range all {
		if c == from {
			continue
		}
		c.mu.Lock()
		_ = c.ws.WritePreparedMessage(pm) // a failed client ends in its reader
		c.mu.Unlock()
	}
}
