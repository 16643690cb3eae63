//go:build !linux

package gateway

import "net"

// Without epoll every connection runs on the goroutine engine; these stubs
// are never reached, since no connection has a poller.

type epollState struct{}

type engine struct{}

// pollBufferSize is the Linux poller's read buffer (the tests use it).
const pollBufferSize = 64 << 10

func (s *Server) runPolled(*Conn, net.Conn) bool { return false }
func (*engine) shutdown()                        {}
