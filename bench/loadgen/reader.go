package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// reader reads a client process's idle connections (modes idle, broadcast
// and push) on one epoll set from one goroutine: a wake-up returns a batch
// of ready sockets and each costs one read, with no goroutine switch. A
// goroutine per connection on Go's netpoller cost the clients 15-20 µs of
// CPU per delivered broadcast message, more than most servers spend
// sending it, and on the machine's two cores that CPU is taken from the
// server under test (docs/benchmarks.md).
//
// Every socket keeps the kernel's software receive timestamp
// (SO_TIMESTAMPING), handed to onData with each message: when the message
// entered the client's TCP receive path, however late the client reads it.
// TCP merges a segment into the one queued before it, if that one is
// unread, and the merged segment carries the later timestamp: a message is
// timed exactly only if nothing follows it before it is read (the held
// broadcast rounds run without server pings for this reason).
type reader struct {
	// coalesce: after a wait that found fewer sockets ready than a
	// quarter of its room, run sleeps this long, so that at a million
	// connections a client process wakes once for many messages rather
	// than once or twice for each (set before run).
	coalesce time.Duration
	epfd     int
	evfd     int // control wakes the reader through it
	conns    map[int32]*rconn
	buf      []byte
	oob      []byte       // recvmsg's control messages: the receive timestamp
	hr       bytes.Reader // over the bytes being consumed, for ws.ReadHeader
	ep       *os.File     // epfd, in Go's netpoller (wait)
	rc       syscall.RawConn
	ctl      chan readerCtl // control's requests, one at a time
	ack      chan struct{}  // run has acted on a request
	done     chan struct{}  // closed when run returns
	qmu      sync.Mutex     // guards queue
	queue    []queued       // connections handed over while run runs (enqueue)
	// onData gets each data message of connection i, valid until it
	// returns, with its receive timestamp (unix ns); onLost a connection
	// that ended.
	onData func(i int, p []byte, rx int64)
	onLost func(err error)
}

// readerCtl is a request to a running reader.
type readerCtl int

const (
	// ctlHold parks the reader: it reads nothing until ctlRelease, so the
	// client process takes no CPU and no wake-up while a broadcast is
	// being sent.
	ctlHold readerCtl = iota + 1
	ctlRelease
	ctlStop // close every connection and return
)

// queued is a connection enqueue handed to the running reader.
type queued struct {
	i, fd int
	pend  []byte
}

// rconn is one connection in the reader.
type rconn struct {
	i    int
	fd   int
	pend []byte // a partial frame
}

func newReader(onData func(int, []byte, int64), onLost func(error)) (*reader, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("loadgen: epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("loadgen: eventfd: %w", err)
	}
	r := &reader{epfd: epfd, evfd: evfd, conns: make(map[int32]*rconn), buf: make([]byte, 64<<10),
		oob: make([]byte, unix.CmsgSpace(3*16)), ctl: make(chan readerCtl, 1), ack: make(chan struct{}), done: make(chan struct{}),
		onData: onData, onLost: onLost}
	if err := r.watch(evfd); err != nil {
		r.closeFDs()
		return nil, err
	}
	// The epoll descriptor waits in Go's netpoller, as wsfleet's pollers
	// do (pkg/gateway/epoll_wait_linux.go): a reader blocked in
	// epoll_wait(2) had sysmon retake its P and hand it to another thread
	// at every wait, which at a million connections was a fifth of the
	// load generator's CPU (perf: sysmon, handoffp, startm).
	if err := unix.SetNonblock(epfd, true); err != nil {
		r.closeFDs()
		return nil, fmt.Errorf("loadgen: epoll fd non-blocking: %w", err)
	}
	r.ep = os.NewFile(uintptr(epfd), "epoll")
	if r.rc, err = r.ep.SyscallConn(); err != nil {
		r.closeFDs()
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	return r, nil
}

// wait fills events with what is ready, parking the goroutine in the
// netpoller while nothing is.
func (r *reader) wait(events []unix.EpollEvent) (int, error) {
	var n int
	var werr error
	err := r.rc.Read(func(fd uintptr) bool {
		var e unix.Errno
		var m uintptr
		m, _, e = unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, fd,
			uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
		switch e {
		case 0:
			n = int(m)
		case unix.EINTR:
		default:
			werr = e
		}
		return n > 0 || werr != nil
	})
	if err != nil {
		return 0, err
	}
	return n, werr
}

func (r *reader) watch(fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(r.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("loadgen: epoll_ctl: %w", err)
	}
	return nil
}

func (r *reader) closeFDs() {
	if r.ep != nil {
		r.ep.Close() // epfd
	} else {
		unix.Close(r.epfd)
	}
	unix.Close(r.evfd)
}

// enqueue hands c to the running reader, as add does before run: a client
// process starts reading each connection as soon as it is open, so that
// the server's pings are answered while the rest are still being dialed
// (opening a million takes longer than the server's idle timeout). Safe
// to call from any goroutine.
func (r *reader) enqueue(i int, c *client) error {
	fd, pend, err := take(c)
	if err != nil {
		return err
	}
	r.qmu.Lock()
	r.queue = append(r.queue, queued{i: i, fd: fd, pend: pend})
	r.qmu.Unlock()
	r.wake()
	return nil
}

// adoptQueued adopts what enqueue handed over; run calls it.
func (r *reader) adoptQueued() {
	r.qmu.Lock()
	q := r.queue
	r.queue = nil
	r.qmu.Unlock()
	for _, c := range q {
		if err := r.adopt(c.i, c.fd, c.pend); err != nil {
			r.onLost(err)
		}
	}
}

// take returns a non-blocking duplicate of c's socket and what its
// bufio.Reader already holds, and closes c.
func take(c *client) (int, []byte, error) {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return -1, nil, fmt.Errorf("loadgen: %T has no file descriptor", c.nc)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, nil, fmt.Errorf("loadgen: %w", err)
	}
	fd, dupErr := -1, error(nil)
	if err := raw.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, nil, fmt.Errorf("loadgen: %w", err)
	}
	if dupErr != nil {
		return -1, nil, fmt.Errorf("loadgen: dup: %w", dupErr)
	}
	var pend []byte
	if n := c.br.Buffered(); n > 0 {
		b, _ := c.br.Peek(n)
		pend = append([]byte(nil), b...)
	}
	c.nc.Close()
	return fd, pend, nil
}

// adopt takes the socket fd as connection i, with pend, what was read of
// it already; it closes fd if it fails.
func (r *reader) adopt(i, fd int, pend []byte) error {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return fmt.Errorf("loadgen: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPING,
		unix.SOF_TIMESTAMPING_RX_SOFTWARE|unix.SOF_TIMESTAMPING_SOFTWARE); err != nil {
		unix.Close(fd)
		return fmt.Errorf("loadgen: SO_TIMESTAMPING: %w", err)
	}
	if err := r.watch(fd); err != nil {
		unix.Close(fd)
		return err
	}
	rc := &rconn{i: i, fd: fd, pend: pend}
	r.conns[int32(fd)] = rc
	if len(rc.pend) > 0 {
		r.consume(rc, nil, 0) // bytes read with the handshake: no timestamp
	}
	return nil
}

// stop ends run: it closes every connection with a reset and returns.
func (r *reader) stop() {
	select {
	case r.ctl <- ctlStop:
		r.wake()
	case <-r.done:
	}
}

// control asks the running reader for c (not ctlStop) and waits until it
// has acted: after ctlHold returns, the reader reads nothing. It returns
// at once if run has returned.
func (r *reader) control(c readerCtl) {
	select {
	case r.ctl <- c:
		r.wake()
	case <-r.done:
		return
	}
	select {
	case <-r.ack:
	case <-r.done:
	}
}

func (r *reader) wake() {
	unix.Write(r.evfd, binary.NativeEndian.AppendUint64(nil, 1))
}

// obey acts on the requests waiting, if any, and reports whether run must
// return. Held, it waits for the next request.
func (r *reader) obey() (stop bool) {
	var one [8]byte
	unix.Read(r.evfd, one[:]) // reset the counter; EAGAIN if already
	r.adoptQueued()
	held := false
	for {
		var c readerCtl
		if held {
			c = <-r.ctl
		} else {
			select {
			case c = <-r.ctl:
			default:
				return false
			}
		}
		if c == ctlStop {
			r.abortAll()
			return true
		}
		held = c == ctlHold
		r.ack <- struct{}{}
	}
}

// run reads until stop.
func (r *reader) run() {
	defer close(r.done)
	defer r.closeFDs()
	events := make([]unix.EpollEvent, 512)
	for {
		n, err := r.wait(events)
		if err != nil {
			r.onLost(fmt.Errorf("epoll_wait: %w", err))
			r.abortAll()
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == r.evfd {
				if r.obey() {
					return
				}
				continue
			}
			if rc := r.conns[ev.Fd]; rc != nil {
				r.readable(rc)
			}
		}
		if r.coalesce > 0 && n < len(events)/4 {
			time.Sleep(r.coalesce)
		}
	}
}

// abortAll closes every connection with a reset (SO_LINGER 0), so no
// TIME_WAIT holds a source port for the next phase.
func (r *reader) abortAll() {
	for _, rc := range r.conns {
		unix.SetsockoptLinger(rc.fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
		unix.Close(rc.fd)
	}
	clear(r.conns)
}

// readable reads what rc has, with its receive timestamp, and consumes it.
func (r *reader) readable(rc *rconn) {
	n, oobn, _, _, err := unix.Recvmsg(rc.fd, r.buf, r.oob, 0)
	switch {
	case err == unix.EAGAIN || err == unix.EINTR:
		return
	case err != nil:
		r.lose(rc, &net.OpError{Op: "read", Net: "tcp", Err: err})
		return
	case n == 0:
		r.lose(rc, io.EOF)
		return
	}
	r.consume(rc, r.buf[:n], rxStamp(r.oob[:oobn]))
}

// rxStamp is the software receive timestamp in a recvmsg's control
// messages (SCM_TIMESTAMPING: three timespecs, the first the software one),
// in unix ns, or 0.
func rxStamp(oob []byte) int64 {
	cms, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, cm := range cms {
		if cm.Header.Level == unix.SOL_SOCKET && cm.Header.Type == unix.SO_TIMESTAMPING && len(cm.Data) >= 16 {
			sec := int64(binary.NativeEndian.Uint64(cm.Data[0:8]))
			nsec := int64(binary.NativeEndian.Uint64(cm.Data[8:16]))
			return sec*1e9 + nsec
		}
	}
	return 0
}

// consume handles every complete frame of rc.pend followed by b, which
// the kernel received at rx (unix ns, 0 if unknown), and keeps the rest.
func (r *reader) consume(rc *rconn, b []byte, rx int64) {
	if len(rc.pend) > 0 {
		b = append(rc.pend, b...)
		rc.pend = nil
	}
	for len(b) > 0 {
		r.hr.Reset(b)
		h, err := ws.ReadHeader(&r.hr)
		hl := len(b) - r.hr.Len()
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			rc.pend = append([]byte(nil), b...) // a partial header
			return
		case err != nil:
			r.lose(rc, fmt.Errorf("loadgen: frame header from the server: %w", err))
			return
		case h.Length > maxPayload:
			r.lose(rc, fmt.Errorf("loadgen: %d-byte frame from the server", h.Length))
			return
		case len(b) < hl+int(h.Length):
			rc.pend = append([]byte(nil), b...) // a partial payload
			return
		}
		p := b[hl : hl+int(h.Length)]
		b = b[hl+int(h.Length):]
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := writeAll(rc.fd, maskedFrame(ws.OpPong, p)); err != nil {
				r.lose(rc, err)
				return
			}
		case ws.OpPong, ws.OpContinuation:
			// Continuations do not occur: the benchmark's messages are one frame.
		case ws.OpClose:
			r.lose(rc, io.EOF)
			return
		default:
			r.onData(rc.i, p, rx)
		}
	}
}

// writeAll writes a small frame on a non-blocking socket, waiting briefly
// if it is full (a pong; the server reads its socket).
func writeAll(fd int, b []byte) error {
	for deadline := time.Now().Add(time.Second); len(b) > 0; {
		n, err := unix.Write(fd, b)
		switch {
		case err == unix.EAGAIN || err == unix.EINTR:
			if time.Now().After(deadline) {
				return errors.New("loadgen: pong: socket full for 1s")
			}
			time.Sleep(time.Millisecond)
			continue
		case err != nil:
			return &net.OpError{Op: "write", Net: "tcp", Err: err}
		}
		b = b[n:]
	}
	return nil
}

// lose ends one connection.
func (r *reader) lose(rc *rconn, err error) {
	delete(r.conns, int32(rc.fd))
	unix.Close(rc.fd) // leaves the epoll set with it
	r.onLost(err)
}
