//go:build linux

package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The accept path of plain TCP (issue 16). Through net.Listener, each
// connection cost a goroutine, a registration in Go's netpoller (and its
// removal), a park until the request came, five setsockopt calls, then a
// dup, two fcntl and a close to take the socket out of the netpoller again
// for the epoll engine: about 18 system calls and three goroutine
// switches before the first frame. Here the accept loop takes sockets with
// accept4(SOCK_NONBLOCK), which inherit TCP_NODELAY and the keep-alive
// settings from the listening socket, reads the request at once (it has
// usually arrived with the connection), upgrades it, and hands the socket
// to a poller: accept4, read, write and epoll_ctl. A request not complete
// yet waits in a poller's epoll set, on no goroutine (pending_linux.go); a
// head to refuse is answered on the socket; only a page leaves on the path
// through net.Conn, with the bytes read so far. This is the path of every
// plain TCP listener on Linux; TLS, and listeners of other types, accept
// through net.Listener (wrap a listener in a type of your own to have
// that path for plain TCP too).

// rawListener is a TCP listener whose sockets the accept loop takes itself.
// lf is a non-blocking duplicate of the listening socket registered with
// Go's netpoller, so that the loop can wait for connections; closing the
// rawListener closes both, which is what stops the socket listening.
type rawListener struct {
	net.Listener
	lf     *os.File
	rc     syscall.RawConn
	closed atomic.Bool
	early  bool // the backlog of before the listener had its options is not drained yet; the accept loop only
}

// Close closes the listener and its duplicate.
func (l *rawListener) Close() error {
	l.closed.Store(true)
	err := l.Listener.Close()
	l.lf.Close()
	return err
}

// rawListen returns the rawListener of ln, or nil when its sockets go
// through net.Listener: TLS (its handshake runs on a goroutine), another
// listener than TCP, or a descriptor that cannot be had.
func (s *Server) rawListen(ln net.Listener) *rawListener {
	tl, ok := ln.(*net.TCPListener)
	if !ok || s.opts.TLS != nil {
		return nil
	}
	sc, err := tl.SyscallConn()
	if err != nil {
		return nil
	}
	fd, ferr := -1, error(nil)
	err = sc.Control(func(lfd uintptr) {
		if ferr = setSocketOptions(int(lfd), s.opts.TCPKeepAlive); ferr != nil {
			ferr = fmt.Errorf("gateway: the listener: %w", ferr)
			return
		}
		fd, ferr = unix.FcntlInt(lfd, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		if err = unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		s.log.Warn("accepting through net.Listener", "err", err)
		return nil
	}
	lf := os.NewFile(uintptr(fd), "listener") // non-blocking: in the netpoller
	rc, err := lf.SyscallConn()
	if err != nil {
		lf.Close()
		return nil
	}
	return &rawListener{Listener: ln, lf: lf, rc: rc, early: true}
}

// setSocketOptions sets on a socket what Go sets on each one it accepts:
// TCP_NODELAY and keep-alive probes every ka (Options.TCPKeepAlive; Go's
// 15 s by default), 9 of them, or, with ka negative, no probes. Set on the listening
// socket, Linux copies them to every socket established after that
// (sock_copy clones the listener's, and tcp_create_openreq_child starts
// the keep-alive timer), so they cost no system call per connection. The
// sockets established before, waiting in the backlog when Serve began
// (a worker's listener is open before its accept loop runs; a client
// quick after Listen), were cloned without them: the accept loop sets
// them on each socket it takes until it first finds the backlog empty
// (rawListener.early; TestSocketsQueuedBeforeServeGetOptions).
func setSocketOptions(fd int, ka time.Duration) error {
	opts := []struct{ level, opt, v int }{
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 0},
	}
	if ka > 0 {
		secs := int(max(ka/time.Second, 1))
		opts[1].v = 1
		opts = append(opts, []struct{ level, opt, v int }{
			{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, secs},
			{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, secs},
			{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
		}...)
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return fmt.Errorf("setsockopt: %w", err)
		}
	}
	return nil
}

// No TCP_DEFER_ACCEPT on the listener: it made the accept loop find the
// request at once, but a connection that is open at the TCP level and
// sends its request later (across a graceful reload, the old worker's
// listener closed meanwhile) was then never accepted by the worker that
// should serve it (TestReloadGracefulHandshakeInFlight). A head not
// complete at accept waits in a poller instead (pending_linux.go), which
// serves it whether the listener is still open or not.

// acceptAll accepts every connection waiting on l, and waits for more,
// until an accept fails: it returns that error (net.ErrClosed once l is
// closed).
func (s *Server) acceptAll(l *rawListener) error {
	var aerr error
	err := l.rc.Read(func(lfd uintptr) bool {
		for {
			fd, ap, err := accept4(int(lfd))
			switch err {
			case nil:
				if l.early {
					if err := setSocketOptions(fd, s.opts.TCPKeepAlive); err != nil {
						s.log.Debug("accepted socket without its options", "err", err)
					}
				}
				s.acceptFD(fd, ap)
			case unix.EAGAIN:
				l.early = false
				return false // wait for the next
			case unix.EINTR, unix.ECONNABORTED:
			default:
				aerr = os.NewSyscallError("accept4", err)
				return true
			}
		}
	})
	if l.closed.Load() {
		return net.ErrClosed
	}
	if err != nil {
		return err
	}
	return aerr
}

// accept4 is accept4(2) with SOCK_NONBLOCK and SOCK_CLOEXEC, as a raw
// system call (the listener is non-blocking: it never blocks, and skips
// the runtime's system-call bookkeeping, as rawRead does), and the peer's
// address.
func accept4(lfd int) (int, netip.AddrPort, error) {
	var rsa unix.RawSockaddrAny
	l := uint32(unix.SizeofSockaddrAny)
	fd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), uintptr(unsafe.Pointer(&rsa)),
		uintptr(unsafe.Pointer(&l)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, e
	}
	return int(fd), peerOfSockaddr(&rsa), nil
}

// peerOfSockaddr is an accepted socket's peer address.
func peerOfSockaddr(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), ntohs(a.Port))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), ntohs(a.Port))
	}
	return netip.AddrPort{}
}

// ntohs reads a port in network byte order.
func ntohs(p uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(&p))
	return uint16(b[0])<<8 | uint16(b[1])
}
