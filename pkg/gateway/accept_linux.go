//go:build linux

package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"

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
// to a poller: accept4, read, write and epoll_ctl. Whatever is not that
// plain case (no complete request yet, a page, an error to answer) leaves
// on the path through net.Conn, with the bytes read so far, so every bound
// and answer of that path holds.

// rawListener is a TCP listener whose sockets the accept loop takes itself.
// lf is a non-blocking duplicate of the listening socket registered with
// Go's netpoller, so that the loop can wait for connections; closing the
// rawListener closes both, which is what stops the socket listening.
type rawListener struct {
	net.Listener
	lf     *os.File
	rc     syscall.RawConn
	closed atomic.Bool
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
		if ferr = inheritOptions(int(lfd)); ferr != nil {
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
	return &rawListener{Listener: ln, lf: lf, rc: rc}
}

// inheritOptions sets on the listening socket what Go sets on each
// accepted one (TCP_NODELAY, keep-alive every 15 s, 9 probes): Linux
// copies them to the sockets accept4 returns, so they cost no system call
// per connection.
func inheritOptions(fd int) error {
	for _, o := range [...]struct{ level, opt, v int }{
		{unix.IPPROTO_TCP, unix.TCP_NODELAY, 1},
		{unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1},
		{unix.IPPROTO_TCP, unix.TCP_KEEPIDLE, 15},
		{unix.IPPROTO_TCP, unix.TCP_KEEPINTVL, 15},
		{unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 9},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return fmt.Errorf("gateway: setsockopt on the listener: %w", err)
		}
	}
	return nil
}

// acceptAll accepts every connection waiting on l, and waits for more,
// until an accept fails: it returns that error (net.ErrClosed once l is
// closed).
func (s *Server) acceptAll(l *rawListener) error {
	var aerr error
	err := l.rc.Read(func(lfd uintptr) bool {
		for {
			fd, sa, err := unix.Accept4(int(lfd), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
			switch err {
			case nil:
				s.acceptFD(fd, sa)
			case unix.EAGAIN:
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

// peerOfSockaddr is the IP of an accepted socket's peer.
func peerOfSockaddr(sa unix.Sockaddr) netip.AddrPort {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(a.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(a.Port))
	}
	return netip.AddrPort{}
}
