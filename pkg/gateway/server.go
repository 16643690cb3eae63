package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Server accepts WebSocket connections and keeps the registry of live ones.
type Server struct {
	opts    Options
	handler Handler
	log     *slog.Logger
	ping    []byte // a compiled ping frame, shared
	door    *door  // the limits at the door

	wg      sync.WaitGroup // handshakes and the TLS engine's readers and writers
	seq     atomic.Uint64
	outputs outputs // connections' write states while output waits (output.go)

	mu       sync.RWMutex
	conns    idMap // by id
	lns      map[net.Listener]struct{}
	live     int           // connections registered or still in OnClose
	opening  int           // accepted connections still in their handshake
	empty    chan struct{} // closed when live and opening drop to 0; nil when nobody waits
	eng      *engine       // the pollers, started with the first plain connection
	engDone  bool          // Shutdown stopped the engine; no new one starts
	stopping bool          // Shutdown began: new connections are closed at once
	stopCode ws.StatusCode
	stopWhy  string

	msgsIn       atomic.Uint64
	msgsOut      atomic.Uint64
	sendFailures atomic.Uint64
	accepted     atomic.Uint64
	k            counters // for metrics (metrics.go)
}

// Stats are the server's counters since it started.
type Stats struct {
	Connections  int    `json:"connections"`
	Accepted     uint64 `json:"accepted"`
	MessagesIn   uint64 `json:"messages_in"`
	MessagesOut  uint64 `json:"messages_out"`
	SendFailures uint64 `json:"send_failures"`
	// Refused counts the clients the door's limits turned away.
	Refused Refusals `json:"refused"`
}

// New returns a Server that calls h for every connection.
func New(opts Options, h Handler, log *slog.Logger) *Server {
	if log == nil {
		log = slog.Default()
	}
	opts = opts.withDefaults()
	return &Server{
		opts:    opts,
		door:    newDoor(&opts),
		handler: h,
		log:     log,
		ping:    compile(ws.OpPing, nil),
		conns:   newIDMap(opts.IDPrefix),
		lns:     make(map[net.Listener]struct{}),
	}
}

// RunPinger pings every connection each Options.PingInterval until ctx ends.
// Browsers and mini-program runtimes answer pings on their own, which keeps
// proxies from timing idle connections out and feeds the idle check.
//
// The pings are spread over the interval: it is cut into pingSlices, and
// each connection is pinged in the slice its creation time falls in, so
// 50k connections cost a small steady load rather than 50k pings (and 50k
// pongs back) at once every interval, which would also delay whatever
// broadcast falls on that moment.
func (s *Server) RunPinger(ctx context.Context) {
	if s.opts.PingInterval < 0 {
		return
	}
	t := time.NewTicker(s.opts.PingInterval / pingSlices)
	defer t.Stop()
	for slice := int64(0); ; slice = (slice + 1) % pingSlices {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.fanOut(s.pingDue(slice), func(c *Conn) bool { return c.enqueue(s.ping, true) == nil })
		}
	}
}

// pingDue lists the connections pinged in slice: a sixteenth of them, so
// a tick neither copies nor orders the whole registry.
func (s *Server) pingDue(slice int64) []*Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*Conn
	for c := range s.conns.all() {
		if c.pingSlice() == slice {
			out = append(out, c)
		}
	}
	return out
}

// pingSlices is how many parts RunPinger spreads its pings over.
const pingSlices = 16

// pingSlice is the part of the ping interval in which c is pinged: its
// creation time in µs, modulo pingSlices, which spreads connections
// evenly even when thousands open within one second.
func (c *Conn) pingSlice() int64 { return c.created / 1000 % pingSlices }

// serveConn upgrades nc (or answers a plain HTTP request) and runs the
// connection to its end; pre is what was read of its request before.
func (s *Server) serveConn(nc net.Conn, peer netip.Addr, counted bool, pre []byte) {
	defer s.wg.Done()
	upgraded := false // then register counted the end of its handshake
	defer func() {
		if !upgraded {
			s.opened(-1)
		}
	}()
	hs, h, nc, ok := s.handshake(nc, peer, counted, pre)
	if !ok {
		return
	}
	c := s.newConn(hs)
	upgraded = true
	if rest := h.rest(); len(rest) > 0 {
		// Frames the client sent right behind its request: the first
		// thing the frame core reads.
		c.in.set(append(make([]byte, 0, len(rest)+minRead), rest...))
	}
	h.release()
	if s.opts.TLS == nil && s.runPolled(c, nc) {
		return
	}
	s.runOnGoroutine(c, nc)
}

func (s *Server) newConn(hs handshake) *Conn {
	var seq [20]byte
	c := allocConn(s.opts.IDPrefix, strconv.AppendUint(seq[:0], s.seq.Add(1), 10), hs.remote)
	c.srv, c.deflate, c.created, c.fd = s, hs.deflate, time.Now().UnixNano(), -1
	c.Value = hs.admitted // Options.Admit's
	if hs.protocol != "" || hs.uri != "/" || hs.header != nil {
		c.extra = &handshakeExtra{protocol: hs.protocol, uri: hs.uri, header: hs.header}
	}
	c.lastRead.Store(c.created)
	return c
}

func (s *Server) register(c *Conn) {
	s.mu.Lock()
	s.conns.put(c)
	s.live++
	s.opening-- // in the same critical section: WaitEmpty never sees neither
	s.mu.Unlock()
}

// opened counts handshakes starting (+1) or failing (-1). WaitEmpty waits
// for them: a connection accepted just before a graceful stop began and
// upgraded just after is owed the grace too (issue 10: it used to be closed
// with 1012 at once when the worker had no other connection).
func (s *Server) opened(n int) {
	s.mu.Lock()
	s.opening += n
	s.signalEmptyLocked()
	s.mu.Unlock()
}

// signalEmptyLocked wakes WaitEmpty when nothing is left.
func (s *Server) signalEmptyLocked() {
	if s.live == 0 && s.opening == 0 && s.empty != nil {
		close(s.empty)
		s.empty = nil
	}
}

// closeIfStopping closes a connection that completed its upgrade after
// Shutdown began.
func (s *Server) closeIfStopping(c *Conn) {
	s.mu.RLock()
	stopping, code, why := s.stopping, s.stopCode, s.stopWhy
	s.mu.RUnlock()
	if stopping {
		c.Close(code, why)
	}
}

// end takes c out of the registry, then runs OnClose; WaitEmpty counts a
// connection until its OnClose has returned.
func (s *Server) end(c *Conn, code ws.StatusCode, reason string) {
	// The door first: once a connection is out of the registry, its
	// place at the door is free too (TestMaxConnsPerIP reconnects as soon
	// as Len drops, and once got 429).
	s.door.release(clientKey(c.RemoteAddr()))
	s.mu.Lock()
	s.conns.del(c)
	// In the same critical section as the delete: Metrics sees the bytes
	// either in the registry or here, never in neither.
	s.k.endedIn += c.bytesIn.Load()
	s.k.endedOut += c.bytesOut.Load()
	s.mu.Unlock()
	s.k.ended(code)
	s.handler.OnClose(c, int(code), reason)
	s.mu.Lock()
	s.live--
	s.signalEmptyLocked()
	s.mu.Unlock()
}

// appendConns appends every registered connection to cs, in no order.
func (s *Server) appendConns(cs []*Conn) []*Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	cs = slices.Grow(cs, s.conns.len())
	for c := range s.conns.all() {
		cs = append(cs, c)
	}
	return cs
}

// snapshot copies the registry, so callers enqueue without holding s.mu,
// in the order of the connections' descriptors. A broadcast then walks the
// kernel's file table, and the files and sockets allocated as the
// connections were accepted, in order rather than at random (map order):
// on 50k connections held by 4 workers, the time for a broadcast to reach
// 99 % fell from 169 to 158 ms (docs/benchmarks.md, held rounds).
func (s *Server) snapshot() []*Conn {
	s.mu.RLock()
	out := make([]*Conn, 0, s.conns.len())
	top := int32(-1)
	for c := range s.conns.all() {
		out = append(out, c)
		top = max(top, c.fd)
	}
	s.mu.RUnlock()
	return byFD(out, top)
}

// byFD orders cs, whose largest descriptor is top, by descriptor in place
// and in linear time: a process's descriptors are small. Connections
// without one (-1: served on a goroutine) come first. Two connections can
// hold the same number for a moment: a poller closes a finished
// connection's socket before it leaves the registry, and the kernel may
// give the number to a connection accepted meanwhile. The second one seen
// comes last, so neither misses the broadcast.
func byFD(cs []*Conn, top int32) []*Conn {
	if top < 0 {
		return cs
	}
	slots := make([]*Conn, top+1)
	var reused []*Conn
	k := 0
	for _, c := range cs {
		switch {
		case c.fd < 0:
			cs[k] = c
			k++
		case slots[c.fd] != nil:
			reused = append(reused, c)
		default:
			slots[c.fd] = c
		}
	}
	for _, c := range slots {
		if c != nil {
			cs[k] = c
			k++
		}
	}
	k += copy(cs[k:], reused)
	return cs[:k]
}

// Lookup returns the live connection with the given id, or nil.
func (s *Server) Lookup(id string) *Conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conns.get(id)
}

// Len is the number of live connections.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.conns.len()
}

// Conns lists the live connections.
func (s *Server) Conns() []ConnInfo {
	cs := s.snapshot()
	out := make([]ConnInfo, len(cs))
	for i, c := range cs {
		out[i] = c.info()
	}
	return out
}

// Stats returns the server's counters.
func (s *Server) Stats() Stats {
	return Stats{
		Connections:  s.Len(),
		Accepted:     s.accepted.Load(),
		MessagesIn:   s.msgsIn.Load(),
		MessagesOut:  s.msgsOut.Load(),
		SendFailures: s.sendFailures.Load(),
		Refused:      s.door.refusals(),
	}
}

// StopAccepting closes every listener given to Serve. Live connections are
// not touched.
func (s *Server) StopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ln := range s.lns {
		ln.Close()
	}
}

// CloseAll starts the closing handshake on every connection with code and
// reason.
func (s *Server) CloseAll(code ws.StatusCode, reason string) {
	for _, c := range s.snapshot() {
		c.Close(code, reason)
	}
}

// WaitEmpty returns nil once no connection is left, none is in its
// handshake, and every OnClose has returned, or ctx's error.
func (s *Server) WaitEmpty(ctx context.Context) error {
	s.mu.Lock()
	if s.live == 0 && s.opening == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.empty == nil {
		s.empty = make(chan struct{})
	}
	ch := s.empty
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("gateway: %d connections left: %w", s.Len(), ctx.Err())
	}
}

// Shutdown stops accepting, closes every connection with code and reason,
// and waits for their goroutines and the engine's. When ctx ends first, the
// remaining TCP connections are closed without waiting for the clients, and
// Shutdown still waits for the goroutines, which then end promptly.
func (s *Server) Shutdown(ctx context.Context, code ws.StatusCode, reason string) error {
	s.mu.Lock()
	if !s.stopping {
		s.stopping, s.stopCode, s.stopWhy = true, code, reason
	}
	s.mu.Unlock()
	s.StopAccepting()
	s.CloseAll(code, reason)
	err := s.WaitEmpty(ctx)
	if err != nil {
		s.abortAll()
	}
	s.wg.Wait() // handshakes under way, and the TLS engine
	// Connections upgraded during the wait were closed with the code;
	// they had their chance, the engine stops now.
	if s.Len() > 0 {
		s.abortAll()
		wctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.WaitEmpty(wctx)
		cancel()
	}
	s.mu.Lock()
	e := s.eng
	s.eng, s.engDone = nil, true
	s.mu.Unlock()
	if e != nil {
		e.shutdown()
	}
	return err
}

// abortAll closes every connection's TCP without waiting for its client.
func (s *Server) abortAll() {
	for _, c := range s.snapshot() {
		c.kill()
	}
}
