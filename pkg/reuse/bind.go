package reuse

import (
	"fmt"
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Bind opens a SO_REUSEPORT socket bound to addr (a host:port with a
// literal IP, as a listener's Addr gives it) but not listening: the kernel
// sends it no connection until a process calls [Activate] on it. A
// supervisor hands such a socket to a replacement that may fail to start:
// were it listening, the connections the kernel queued on it meanwhile
// would be reset when it is closed. The returned listener only carries the
// socket (for [File] and Close); accepting on it before Activate fails.
func Bind(addr string) (net.Listener, error) {
	ta, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("reuse: bind %s: %w", addr, err)
	}
	family, sa := unix.AF_INET6, unix.Sockaddr(nil)
	if ip4 := ta.IP.To4(); ip4 != nil {
		family, sa = unix.AF_INET, &unix.SockaddrInet4{Port: ta.Port, Addr: [4]byte(ip4)}
	} else {
		s6 := &unix.SockaddrInet6{Port: ta.Port}
		copy(s6.Addr[:], ta.IP.To16()) // nil (all addresses) stays zero: [::]
		sa = s6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("reuse: bind %s: socket: %w", addr, err)
	}
	opts := [][2]int{{unix.SOL_SOCKET, unix.SO_REUSEADDR}, {unix.SOL_SOCKET, unix.SO_REUSEPORT}}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o[0], o[1], 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("reuse: bind %s: setsockopt: %w", addr, err)
		}
	}
	if family == unix.AF_INET6 {
		// Dual stack, as Go's own listeners on [::] are.
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 0)
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("reuse: bind %s: %w", addr, err)
	}
	f := os.NewFile(uintptr(fd), "bound:"+addr)
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("reuse: bind %s: %w", addr, err)
	}
	return ln, nil
}

// Activate makes a socket from [Bind] listen, so the kernel starts sending
// it connections. On a socket that listens already it only resets the
// backlog, so a process can call it on whatever socket it inherited.
func Activate(ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return fmt.Errorf("reuse: %T has no file descriptor", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("reuse: %w", err)
	}
	var lerr error
	if err := raw.Control(func(fd uintptr) {
		// The kernel caps the backlog at net.core.somaxconn, as Go's
		// listeners ask it to.
		lerr = unix.Listen(int(fd), 65535)
	}); err != nil {
		return fmt.Errorf("reuse: %w", err)
	}
	if lerr != nil {
		return fmt.Errorf("reuse: listen: %w", lerr)
	}
	return nil
}
