package reuse

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrHeld is what Accept returns on a listener from [Hold].
var ErrHeld = errors.New("reuse: a held socket is not accepted on")

// Hold returns a listener that keeps ln's socket open in this process
// without watching it: a duplicate descriptor outside Go's netpoller.
// It closes ln. A supervisor that only hands its listening sockets to
// workers holds them so: every socket a process's net.Listener owns is
// in its netpoller, and each connection the kernel queues on a listening
// socket wakes every epoll set that watches it, so the master's threads
// woke about once for every connection its workers accepted (7,000 context
// switches in a storm of 10,000 connections on -count 2). The held
// listener's Accept fails with [ErrHeld]; [File] and Close work as on
// any other, and Addr is ln's.
func Hold(ln net.Listener) (net.Listener, error) {
	fd, err := dupOf(ln)
	if err != nil {
		return nil, err
	}
	h := &held{fd: fd, addr: ln.Addr()}
	ln.Close() // the socket stays open through fd
	return h, nil
}

// held is a socket kept open by its descriptor alone.
type held struct {
	fd     int
	addr   net.Addr
	once   sync.Once
	closed atomic.Bool
}

func (h *held) Accept() (net.Conn, error) { return nil, ErrHeld }

func (h *held) Close() error {
	err := net.ErrClosed
	h.once.Do(func() {
		h.closed.Store(true)
		err = unix.Close(h.fd)
	})
	return err
}

func (h *held) Addr() net.Addr { return h.addr }

// SyscallConn gives the descriptor to [File] and [Activate]; it reads and
// writes nothing.
func (h *held) SyscallConn() (syscall.RawConn, error) { return heldConn{h}, nil }

type heldConn struct{ h *held }

func (c heldConn) Control(f func(fd uintptr)) error {
	if c.h.closed.Load() {
		return net.ErrClosed
	}
	f(uintptr(c.h.fd))
	return nil
}

func (heldConn) Read(func(fd uintptr) bool) error  { return ErrHeld }
func (heldConn) Write(func(fd uintptr) bool) error { return ErrHeld }
