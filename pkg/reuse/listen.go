package reuse

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"

	reuseport "github.com/libp2p/go-reuseport"
	"golang.org/x/sys/unix"
)

// ErrAddrInUse is returned by [CheckFree] when another socket, SO_REUSEPORT or
// not, is bound to the address.
var ErrAddrInUse = errors.New("reuse: address already in use")

// Listen opens a TCP listening socket on addr with SO_REUSEPORT and
// SO_REUSEADDR set, so that several sockets, in one process or several, can
// listen on the same address.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: reuseport.Control}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("reuse: listen %s: %w", addr, err)
	}
	return ln, nil
}

// ListenN opens n SO_REUSEPORT listeners on addr. When addr has port 0 the
// first socket picks the port and the others bind to it too. On error every
// socket opened so far is closed.
func ListenN(ctx context.Context, addr string, n int) ([]net.Listener, error) {
	lns := make([]net.Listener, 0, n)
	for i := 0; i < n; i++ {
		ln, err := Listen(ctx, addr)
		if err != nil {
			for _, l := range lns {
				l.Close()
			}
			return nil, err
		}
		if i == 0 {
			addr = ln.Addr().String()
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// CheckFree reports whether addr can be bound by a socket without
// SO_REUSEPORT, which fails while any other socket is bound to it. It catches
// a second cluster on the same port: SO_REUSEPORT sockets of the same user
// would otherwise share the port silently. The probe socket is closed before
// CheckFree returns.
func CheckFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%w: %s", ErrAddrInUse, addr)
		}
		return fmt.Errorf("reuse: probe %s: %w", addr, err)
	}
	return ln.Close()
}

// File returns a duplicate of the listener's socket as an *os.File, for
// passing to a child process (exec.Cmd.ExtraFiles). The duplicate is made
// through SyscallConn, not (*net.TCPListener).File, so the original stays in
// non-blocking mode and keeps working in this process. The caller closes the
// returned file.
func File(ln net.Listener) (*os.File, error) {
	dup, err := dupOf(ln)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(dup), "listener:"+ln.Addr().String()), nil
}

// dupOf duplicates ln's socket descriptor (close-on-exec), through
// SyscallConn, leaving ln as it was.
func dupOf(ln net.Listener) (int, error) {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("reuse: %T has no file descriptor", ln)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("reuse: %w", err)
	}
	dup, dupErr := -1, error(nil)
	if err := raw.Control(func(fd uintptr) {
		dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, fmt.Errorf("reuse: %w", err)
	}
	if dupErr != nil {
		return -1, fmt.Errorf("reuse: dup listener: %w", dupErr)
	}
	return dup, nil
}

// FromFile makes a listener of an inherited socket file and closes f; the
// listener holds its own duplicate.
func FromFile(f *os.File) (net.Listener, error) {
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("reuse: listener from fd %d: %w", f.Fd(), err)
	}
	return ln, nil
}
