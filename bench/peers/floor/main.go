// Command floor is not a server anyone would run: it calibrates what a
// broadcast costs on the benchmark's machine with no server around it. It
// upgrades with gobwas/ws, keeps each connection's socket, and on a text
// message "BROADCAST <payload>" writes one frame, encoded once, to every
// other socket with a bare write(2), from one goroutine per core: no queue,
// no lock per connection, no bus. Whatever a real server adds comes on top
// of what this one measures. It echoes any other message.
package main

import (
	"bytes"
	"flag"
	"log"
	"net"
	"runtime"
	"slices"
	"sync"
	"syscall"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"
)

// floor holds the sockets. A broadcast holds mu for reading while it
// writes, and a connection leaves (and its socket is closed) under mu, so
// no write reaches a reused descriptor.
type floor struct {
	mu  sync.RWMutex
	fds map[int]struct{}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to accept on")
	flag.Parse()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	f := &floor{fds: make(map[int]struct{})}
	for {
		nc, err := ln.Accept()
		if err != nil {
			log.Fatal(err)
		}
		go f.serve(nc)
	}
}

func (f *floor) serve(nc net.Conn) {
	fd := -1
	if _, err := ws.Upgrade(nc); err == nil {
		if raw, err := nc.(syscall.Conn).SyscallConn(); err == nil {
			raw.Control(func(s uintptr) { fd = int(s) })
		}
	}
	if fd < 0 {
		nc.Close()
		return
	}
	f.mu.Lock()
	f.fds[fd] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.fds, fd)
		nc.Close()
		f.mu.Unlock()
	}()
	for {
		data, op, err := wsutil.ReadClientData(nc) // answers pings and closes
		if err != nil {
			return
		}
		if p, ok := bytes.CutPrefix(data, []byte("BROADCAST ")); ok && op == ws.OpText {
			f.broadcast(fd, p)
			continue
		}
		if err := wsutil.WriteServerMessage(nc, op, data); err != nil {
			return
		}
	}
}

func (f *floor) broadcast(from int, p []byte) {
	frame := ws.MustCompileFrame(ws.NewTextFrame(p))
	f.mu.RLock()
	defer f.mu.RUnlock()
	fds := make([]int, 0, len(f.fds))
	for fd := range f.fds {
		if fd != from {
			fds = append(fds, fd)
		}
	}
	var wg sync.WaitGroup
	for part := range slices.Chunk(fds, max(1, (len(fds)+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0))) {
		wg.Go(func() {
			for _, fd := range part {
				unix.Write(fd, frame) // 30-odd bytes to an idle socket: EAGAIN does not happen here
			}
		})
	}
	wg.Wait()
}
