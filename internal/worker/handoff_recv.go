package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// listenHandoff starts receiving connections from the old worker of this
// worker's slot: it listens on the abstract Unix socket req.Name and takes
// one connection from req.From's pid only, then imports batches until the
// old worker says it is done, the socket fails or the time is up.
func (w *Worker) listenHandoff(req ctl.HandoffListen) error {
	if why := w.handoffBlocker(); why != "" {
		return errors.New(why)
	}
	hf := w.opts.App.(app.Handoffer)
	if req.Name == "" || req.From <= 0 || req.TimeoutMillis <= 0 {
		return fmt.Errorf("worker: hand-off: bad request %+v", req)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: "@" + req.Name, Net: "unix"})
	if err != nil {
		return fmt.Errorf("worker: hand-off: %w", err)
	}
	deadline := time.Now().Add(time.Duration(req.TimeoutMillis) * time.Millisecond)
	ln.SetDeadline(deadline)
	w.handoffs.Go(func() {
		defer ln.Close()
		uc, err := acceptFrom(ln, req.From)
		if err != nil {
			w.log.Warn("hand-off: no connection from the old worker", "err", err)
			return
		}
		ln.Close()
		defer uc.Close()
		uc.SetDeadline(deadline)
		n, err := w.receive(uc, hf)
		// Filters and buffers go once what both workers got has come.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		w.hub.EndReceive(ctx)
		cancel()
		if err != nil {
			w.log.Warn("hand-off ended early", "received", n, "err", err)
			return
		}
		w.log.Info("connections received", "received", n)
	})
	return nil
}

// acceptFrom accepts the first connection whose peer is process pid,
// refusing any other (SO_PEERCRED).
func acceptFrom(ln *net.UnixListener, pid int) (*net.UnixConn, error) {
	for {
		uc, err := ln.AcceptUnix()
		if err != nil {
			return nil, err
		}
		if peerPID(uc) == pid {
			return uc, nil
		}
		uc.Close()
	}
}

// peerPID is the pid of the process at the other end of uc, or -1.
func peerPID(uc *net.UnixConn) int {
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1
	}
	pid := -1
	raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}

// receive imports batches until the empty one, answering each, and starts
// serving a batch's connections once the answer is written: until then the
// old worker may still take them back.
func (w *Worker) receive(uc *net.UnixConn, hf app.Handoffer) (int, error) {
	total := 0
	delay := handoffAckDelay()
	for {
		items, note, err := gateway.RecvHandoff(uc)
		if err != nil {
			return total, err
		}
		if note != nil {
			if err := w.answerPrepare(context.Background(), uc, note); err != nil {
				return total, err
			}
			continue
		}
		if len(items) == 0 {
			return total, nil
		}
		ok := make([]bool, len(items))
		cs := make([]*gateway.Conn, len(items))
		for i, it := range items {
			c, err := w.importHanded(it, hf)
			if err != nil {
				w.log.Warn("hand-off: connection refused", "err", err)
				continue
			}
			ok[i], cs[i] = true, c
		}
		if delay > 0 {
			time.Sleep(delay) // a test's window to kill this worker mid-way
		}
		err = gateway.SendHandoffAck(uc, ok)
		w.hub.EndBatch()
		if err != nil {
			// The old worker takes them back: let go of our copies.
			for _, c := range cs {
				if c != nil {
					w.hub.Remove(c)
					w.gw.Release(c)
				}
			}
			return total, fmt.Errorf("worker: hand-off answer: %w", err)
		}
		for _, c := range cs {
			if c != nil {
				w.gw.Start(c)
				total++
			}
		}
	}
}

// importHanded checks one handed connection's state and registers it.
func (w *Worker) importHanded(it gateway.HandoffItem, hf app.Handoffer) (*gateway.Conn, error) {
	var st gateway.HandoffState
	if err := st.UnmarshalBinary(it.State); err != nil {
		unix.Close(it.FD)
		return nil, err
	}
	hc, err := decodeHanded(st.App, cmp.Or(w.opts.MaxRooms, hub.DefaultMaxRooms))
	if err != nil {
		unix.Close(it.FD)
		return nil, err
	}
	st.App = nil
	return w.gw.Import(st, it.FD, func(c *gateway.Conn) error { return w.attachHanded(c, hc, hf) })
}
