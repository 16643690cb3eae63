//go:build linux

package gateway

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// How a poller waits (issue 16). It used to block in epoll_wait(2) through
// unix.EpollWait: a blocking system call, for which the runtime hands the
// poller's P over (sysmon's retake) and keeps sysmon waking every 20 µs
// while it does so. Under a storm of connections sysmon's nanosleeps were
// a quarter of a worker's CPU (perf, 4 workers on 2 cores). Instead the
// epoll descriptor itself sits in Go's netpoller, as any socket: the poller
// takes what is ready with epoll_wait(timeout 0), a raw system call that
// never blocks, and when nothing is, parks its goroutine until the set
// becomes readable. No thread blocks in a system call and sysmon sleeps
// long.

// pollable puts p.epfd in Go's netpoller.
func (p *poller) pollable() error {
	if err := unix.SetNonblock(p.epfd, true); err != nil {
		return fmt.Errorf("gateway: epoll fd non-blocking: %w", err)
	}
	p.ep = os.NewFile(uintptr(p.epfd), "epoll") // non-blocking: registered with the netpoller
	rc, err := p.ep.SyscallConn()
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	p.rc = rc
	return nil
}

// wait fills events with what is ready, parking the goroutine while
// nothing is; an error means the poller must stop.
func (p *poller) wait(events []unix.EpollEvent) (int, error) {
	var n int
	var werr error
	err := p.rc.Read(func(fd uintptr) bool {
		n, werr = epollNow(int(fd), events)
		if werr == unix.EINTR {
			n, werr = 0, nil
		}
		return n > 0 || werr != nil
	})
	if err != nil {
		return 0, fmt.Errorf("gateway: wait on epoll: %w", err)
	}
	return n, werr
}

// epollNow is epoll_wait(2) with a timeout of 0, as a raw system call: it
// never blocks.
func epollNow(epfd int, events []unix.EpollEvent) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd),
		uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
