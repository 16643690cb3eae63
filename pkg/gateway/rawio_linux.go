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
