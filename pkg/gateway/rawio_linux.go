//go:build linux

package gateway

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The pollers' reads and writes on their non-blocking sockets skip the
// scheduler's system-call bookkeeping. A call through unix.Read or
// unix.Write enters and leaves the runtime's syscall state, so that sysmon
// may hand the P to another thread should it block; these calls never
// block, and on an echo worker the bookkeeping (runtime.exitsyscall and
// reentersyscall in perf) was 1.4 % of its CPU. gVisor's and
// cloudwego/netpoll's non-blocking sends are raw system calls for the
// same reason.

// rawRead is read(2) on a non-blocking socket.
func rawRead(fd int, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawWrite is write(2) on a non-blocking socket.
func rawWrite(fd int, b []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// The calls of a connection's way into a poller (a burst of handshakes
// makes thousands) are raw too, for a second reason: under a burst, on
// cores shared with other processes, a thread is often descheduled inside
// a system call, and for one made through the runtime's bookkeeping sysmon
// then hands its P to another thread, starting a new one when none is
// idle. A thread is never given back: it keeps its 16 KiB system stack and
// 32 KiB signal stack for the process's life (a worker went from 7-8
// threads to 14-16 in a burst, about 30 B per idle connection at 12.5k
// connections, issue 16). None of these calls blocks.

// rawEpollCtl is epoll_ctl(2).
func rawEpollCtl(epfd int, op int, fd int, ev *unix.EpollEvent) error {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// rawClose is close(2) of a socket without SO_LINGER, which does not wait
// for its data to go out.
func rawClose(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}
