//go:build !linux

package gateway

import "net"

// Without epoll every connection runs on the goroutine engine; these stubs
// are never reached, since no connection has a poller.

type epollState struct{ waitOut, holdFlush, killed, queuedTask bool }

type poller struct{ now int64 }

type engine struct{}

// pollBufferSize is the Linux poller's read buffer (the tests use it).
const pollBufferSize = 64 << 10

func (s *Server) runPolled(*Conn, net.Conn) bool { return false }
func (*engine) shutdown()                        {}
func (*poller) wake(*Conn)                       {}
func (*Conn) flushLocked()                       {}
func (*Conn) halfCloseFDLocked()                 {}
func (*Conn) kill()                              {}
