//go:build linux

package gateway

import "time"

// The sweeper enforces the poller connections' timeouts from timestamps,
// so that no connection holds a timer or a deadline: the idle timeout
// (nothing read), the close timeout (a close handshake or a lingering close
// not over) and the write timeout (a full socket that took no byte).

// runSweeper checks every poller connection, and has every poller check
// its pending handshakes (pending_linux.go), each sweepInterval until the
// engine stops.
func (s *Server) runSweeper(e *engine) {
	t := time.NewTicker(s.sweepInterval())
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			for _, p := range e.pollers {
				p.requestSweep()
			}
			now := nowNano()
			for _, c := range s.appendConns(nil) { // in no order: no byFD
				if _, polled := c.tr.(*poller); polled {
					c.sweep(now)
				}
			}
		}
	}
}

// sweepInterval is a quarter of the shortest timeout (the handshake's
// included), between 10ms and 1s:
// a timeout fires at most that late.
func (s *Server) sweepInterval() time.Duration {
	o := s.opts
	d := min(o.CloseTimeout, o.WriteTimeout, o.HandshakeTimeout)
	if o.IdleTimeout > 0 {
		d = min(d, o.IdleTimeout)
	}
	return min(max(d/4, 10*time.Millisecond), time.Second)
}

// sweep applies c's timeouts at now (unix nanos).
func (c *Conn) sweep(now int64) {
	o := &c.srv.opts
	if since := c.stallSince.Load(); since != 0 {
		// Output is waiting for a full socket: the client must take some
		// of it every WriteTimeout; the close deadline waits for it.
		if now-since > int64(o.WriteTimeout) {
			c.srv.log.Debug("write timeout", "conn", c.id)
			c.srv.sendFailures.Add(1)
			c.kill()
		}
		return
	}
	if by := c.closeBy.Load(); by != 0 {
		if now > by {
			c.kill() // the client never finished the close handshake
		}
		return
	}
	if o.IdleTimeout > 0 && now-c.lastRead.Load() > int64(o.IdleTimeout) {
		// Nothing read for IdleTimeout, not even a pong.
		c.fail(errIdleTimeout)
	}
}

// nowNano is the clock of the timestamps the sweeper compares.
func nowNano() int64 { return time.Now().UnixNano() }
