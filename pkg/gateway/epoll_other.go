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

// rawListener is Linux's accept loop; elsewhere Serve uses net.Listener.
type rawListener struct{ net.Listener }

func (s *Server) rawListen(net.Listener) *rawListener { return nil }
func (s *Server) acceptAll(*rawListener) error        { return nil }
