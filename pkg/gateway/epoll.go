//go:build linux

package gateway

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// The epoll engine, for plain TCP connections. After the upgrade a
// connection's socket leaves Go's netpoller (its fd is duplicated and the
// net.Conn closed) and joins one poller's epoll set. A poller goroutine
// waits for readiness, reads what is there into its own buffer and runs the
// frame core on it: an idle connection holds no goroutine and no buffer.
//
// Ownership: a connection's poller is the only goroutine that reads its
// socket, closes it and calls its OnMessage and OnClose. Writers take the
// connection's mutex around each non-blocking write; the socket is closed
// under that mutex too, so no write can reach a reused descriptor. Other
// goroutines (the sweeper, Shutdown, a writer that saw the socket fail)
// ask the poller to act by waking it with the connection (poller.wake).

// engine is the pollers and the sweeper of one Server.
type engine struct {
	pollers []*poller
	next    int // round-robin; under Server.mu
	stop    chan struct{}
	wg      sync.WaitGroup
}

// startEngine creates the pollers (see Options.Cores) and the sweeper.
func (s *Server) startEngine() (*engine, error) {
	e := &engine{stop: make(chan struct{})}
	for range s.opts.pollers() {
		p, err := newPoller(s)
		if err != nil {
			for _, p := range e.pollers {
				p.closeFDs()
			}
			return nil, err
		}
		e.pollers = append(e.pollers, p)
	}
	for _, p := range e.pollers {
		e.goroutine(p.run)
	}
	e.goroutine(func() { s.runSweeper(e) })
	return e, nil
}

// runPolled moves c to a poller: it takes the socket out of nc, runs
// OnOpen, and hands c over. It returns false, leaving nc open, when the
// engine or the socket cannot be had; c then runs on a goroutine.
func (s *Server) runPolled(c *Conn, nc net.Conn) bool {
	p := s.pollerFor()
	if p == nil {
		return false
	}
	fd, err := detach(nc)
	if err != nil {
		s.log.Warn("connection stays on a goroutine", "conn", c.id, "err", err)
		return false
	}
	s.openPolled(p, c, fd, false)
	return true
}

// runPolledFD moves c, on the non-blocking socket fd, to a poller, as
// runPolled does; false when there is no engine (fd is left open). on is
// the poller whose goroutine this is and whose epoll set holds fd already
// (a handshake that waited there, upgraded inline), or nil.
func (s *Server) runPolledFD(c *Conn, fd int, on *poller) bool {
	p := on
	if p == nil {
		p = s.pollerFor()
	}
	if p == nil {
		return false
	}
	s.openPolled(p, c, fd, on != nil)
	return true
}

// openPolled registers c, runs OnOpen and hands c to p. here says that
// this is p's goroutine and fd is in p's epoll set (with EPOLLIN): c then
// stays in the set, and p takes it at once.
func (s *Server) openPolled(p *poller, c *Conn, fd int, here bool) {
	c.tr, c.fd = p, int32(fd)
	c.queuedTask = true // the poller ignores wake-ups until handOver
	if here {
		c.events = unix.EPOLLIN // before added: what the set holds (service)
	}
	s.register(c)
	if err := s.handler.OnOpen(c); err != nil {
		c.fail(err)
	} else {
		s.closeIfStopping(c)
	}
	if here {
		p.mu.Lock()
		c.queuedTask = false
		p.mu.Unlock()
		p.service(c)
		return
	}
	p.handOver(c)
}

// detach takes a plain TCP connection out of Go's netpoller: it duplicates
// the socket (through SyscallConn, so the original stays non-blocking) and
// closes the net.Conn. It fails, leaving nc open, when nc is not a socket.
func detach(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("gateway: %T has no file descriptor", nc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("gateway: %w", err)
	}
	fd, dupErr := -1, error(nil)
	if err := raw.Control(func(s uintptr) {
		fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("gateway: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("gateway: dup socket: %w", dupErr)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("gateway: %w", err)
	}
	nc.Close()
	return fd, nil
}

// pollerFor picks a poller round-robin, starting the engine with the first
// connection; nil when it cannot start or Shutdown stopped it.
func (s *Server) pollerFor() *poller {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.eng == nil {
		if s.engDone {
			return nil
		}
		e, err := s.startEngine()
		if err != nil {
			s.log.Error("epoll engine unavailable; connections run on goroutines", "err", err)
			s.engDone = true
			return nil
		}
		s.eng = e
	}
	p := s.eng.pollers[s.eng.next%len(s.eng.pollers)]
	s.eng.next++
	return p
}

// goroutine starts f and has the engine wait for it.
func (e *engine) goroutine(f func()) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		f()
	}()
}

// shutdown stops the pollers and the sweeper and waits for them. Each
// poller closes its epoll and event fds; connections still in a poller are
// closed and get OnClose (Server.Shutdown has closed them all before).
func (e *engine) shutdown() {
	close(e.stop)
	for _, p := range e.pollers {
		p.mu.Lock()
		p.stopping = true
		p.mu.Unlock()
		p.notify()
	}
	e.wg.Wait()
}

// poller owns the connections in one epoll set.
type poller struct {
	srv   *Server
	epfd  int
	ep    *os.File             // epfd, in Go's netpoller: the poller waits there (epoll_wait_linux.go)
	rc    syscall.RawConn      // ep's
	evfd  int                  // an eventfd in the set: wake-ups from other goroutines
	buf   []byte               // the read buffer every connection of this poller shares
	conns []*Conn              // indexed by fd; the poller goroutine only
	now   int64                // unix nanos when epoll_wait last returned; the poller goroutine only
	pend  map[int32]*pendingHS // handshakes waiting for their request, by fd (pending_linux.go); the poller goroutine only
	npend atomic.Int32         // len(pend), for the sweeper

	mu       sync.Mutex
	tasks    []*Conn      // connections to look at
	detaches []*detachReq // connections to hand off (handoff_linux.go)
	newPend  []*pendingHS // handshakes to watch
	sweepDue bool         // the sweeper asks for a look at pend's timeouts
	stopping bool
}

// pollBufferSize is each poller's read buffer; one read takes at most this
// much from one connection, so a busy connection cannot starve the others.
const pollBufferSize = 64 << 10

func newPoller(s *Server) (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("gateway: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("gateway: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, fmt.Errorf("gateway: epoll_ctl: %w", err)
	}
	p := &poller{srv: s, epfd: epfd, evfd: evfd, buf: make([]byte, pollBufferSize)}
	if err := p.pollable(); err != nil {
		unix.Close(epfd)
		unix.Close(evfd)
		return nil, err
	}
	return p, nil
}

func (p *poller) closeFDs() {
	p.ep.Close() // epfd
	unix.Close(p.evfd)
}

// run is the poller goroutine.
func (p *poller) run() {
	defer p.closeFDs()
	events := make([]unix.EpollEvent, 256)
	for {
		n, err := p.wait(events)
		p.now = nowNano()
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			p.srv.log.Error("epoll_wait failed; poller stops", "err", err)
			p.closeAll()
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == p.evfd {
				if p.runTasks() {
					p.closeAll()
					return
				}
				continue
			}
			c := p.conn(ev.Fd)
			if c == nil {
				if ph := p.pend[ev.Fd]; ph != nil {
					p.pendingReadable(ph)
				}
				continue // else closed earlier in this batch
			}
			if ev.Events&unix.EPOLLOUT != 0 {
				p.writable(c)
			}
			if ev.Events&(unix.EPOLLIN|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
				p.readable(c, ev.Events&(unix.EPOLLHUP|unix.EPOLLERR) != 0)
			}
		}
	}
}

// wake asks the poller to look at c (its state changed on another
// goroutine) and returns at once.
func (p *poller) wake(c *Conn) {
	p.mu.Lock()
	if c.queuedTask {
		p.mu.Unlock()
		return
	}
	c.queuedTask = true
	first := len(p.tasks) == 0
	p.tasks = append(p.tasks, c)
	p.mu.Unlock()
	if first {
		p.notify()
	}
}

// handOver gives a new connection to the poller: from here on the poller
// owns it. Until then wake ignores it (queuedTask starts true), so no
// poller callback can overlap OnOpen.
func (p *poller) handOver(c *Conn) {
	p.mu.Lock()
	first := len(p.tasks) == 0
	p.tasks = append(p.tasks, c)
	p.mu.Unlock()
	if first {
		p.notify()
	}
}

var one = binary.NativeEndian.AppendUint64(nil, 1)

func (p *poller) notify() {
	rawWrite(p.evfd, one) // EAGAIN: the counter is already non-zero
}

// runTasks services the connections other goroutines woke the poller for,
// and reports whether the poller should stop.
func (p *poller) runTasks() bool {
	var b [8]byte
	rawRead(p.evfd, b[:])
	p.mu.Lock()
	tasks, detaches, stop := p.tasks, p.detaches, p.stopping
	newPend, sweep := p.newPend, p.sweepDue
	p.tasks, p.detaches, p.newPend, p.sweepDue = nil, nil, nil, false
	for _, c := range tasks {
		c.queuedTask = false
	}
	p.mu.Unlock()
	for _, c := range tasks {
		p.service(c)
	}
	for _, r := range detaches {
		r.done <- p.detach(r.c)
	}
	for _, ph := range newPend {
		p.watch(ph)
	}
	if sweep {
		p.sweepPending(nowNano())
	}
	return stop
}

// closeAll ends every connection left when the poller stops.
func (p *poller) closeAll() {
	p.mu.Lock()
	newPend := p.newPend
	p.newPend = nil
	p.mu.Unlock()
	for _, ph := range newPend {
		p.srv.dropPending(ph)
	}
	p.dropAllPending()
	for _, c := range p.conns {
		if c != nil {
			p.finish(c)
		}
	}
}

// conn is the connection on fd, or nil.
func (p *poller) conn(fd int32) *Conn {
	if int(fd) < len(p.conns) {
		return p.conns[fd]
	}
	return nil
}

// set records c (nil: none) as the connection on fd.
func (p *poller) set(fd int32, c *Conn) {
	if int(fd) >= len(p.conns) {
		p.conns = append(p.conns, make([]*Conn, int(fd)+1-len(p.conns))...)
	}
	p.conns[fd] = c
}
