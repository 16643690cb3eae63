package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"
)

// Serve accepts connections on ln until ln is closed (StopAccepting) or ctx
// ends, then returns nil; connections stay open.
//
// When the process is out of file descriptors (EMFILE, or ENFILE for the
// whole system), waiting would leave clients queued in the listen backlog
// for as long as the table stays full: seconds, with slowloris sockets
// holding it (issue 11). Serve keeps one descriptor in reserve instead:
// on EMFILE it closes the reserve, accepts the waiting client, answers 503
// and closes it, then takes the reserve back. When even that fails, it
// backs off (10 ms doubling to 1 s, as nats-server's acceptError does),
// watching ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	reserve, _ := os.Open(os.DevNull) // nil if the table is full already
	defer func() { reserve.Close() }()
	raw := s.rawListen(ln)
	if raw != nil {
		ln = raw // closing it closes the original too
	}
	s.mu.Lock()
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		var nc net.Conn
		var err error
		if raw != nil {
			err = s.acceptAll(raw) // returns only with an error
		} else {
			nc, err = ln.Accept()
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if outOfFiles(err) && s.refuseWithReserve(ln, &reserve) {
				backoff = 0
				continue
			}
			backoff = min(max(2*backoff, 10*time.Millisecond), time.Second)
			s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-ctx.Done():
				return nil
			}
		}
		backoff = 0
		s.accepted.Add(1)
		s.keepAlive(nc)
		peer, counted, ok := s.admitPeer(nc)
		if !ok {
			continue
		}
		s.wg.Add(1)
		s.opened(1) // WaitEmpty waits for its handshake too (reload -g)
		go s.serveConn(nc, peer, counted, nil)
	}
}

// keepAlive gives a connection net.Listener accepted the keep-alive
// probes of Options.TCPKeepAlive. A TCP listener's Accept has set Go's
// (15 s) already, the default, so that costs nothing.
func (s *Server) keepAlive(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok || s.opts.TCPKeepAlive == 15*time.Second {
		return
	}
	var err error
	if s.opts.TCPKeepAlive < 0 {
		err = tc.SetKeepAlive(false)
	} else {
		err = tc.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true,
			Idle: s.opts.TCPKeepAlive, Interval: s.opts.TCPKeepAlive, Count: 9})
	}
	if err != nil {
		s.log.Debug("keep-alive not set", "err", err)
	}
}

// outOfFiles reports whether an accept failed for want of a descriptor.
func outOfFiles(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// refuseWithReserve spends the reserve descriptor on one waiting client,
// which gets 503, and takes the reserve back. It reports whether a client
// was refused; false means back off (no reserve, or another goroutine took
// the freed descriptor first).
func (s *Server) refuseWithReserve(ln net.Listener, reserve **os.File) bool {
	if *reserve == nil {
		*reserve, _ = os.Open(os.DevNull)
		return false
	}
	(*reserve).Close()
	*reserve = nil
	nc, err := ln.Accept()
	if err == nil {
		s.refuse(nc, reasonFiles, http.StatusServiceUnavailable, "remote", nc.RemoteAddr().String())
	}
	*reserve, _ = os.Open(os.DevNull)
	return err == nil
}
