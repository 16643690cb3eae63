package master

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// process is one started worker as the supervisor needs it: the seam that
// lets unit tests drive the table with a fake child in milliseconds
// (tableflip's process interface and testProcess). The real one is
// execProcess (child.go).
type process interface {
	PID() int
	// Exited is closed once the process has exited; ExitStatus then says
	// how.
	Exited() <-chan struct{}
	ExitStatus() string
	// Call and CallStream ask the worker over its control connection.
	Call(ctx context.Context, op string, args, result any) error
	CallStream(ctx context.Context, op string, args any, each func(json.RawMessage) error, result any) error
	Signal(sig os.Signal) error
}

// starter starts a worker for a slot on the slot's socket and returns once
// it is ready, has failed, or ctx ended (then nothing is left running).
type starter interface {
	start(ctx context.Context, slot int, ln net.Listener) (process, error)
}

// timings are the supervisor's bounds; defaultTimings are the product's,
// tests shorten them.
type timings struct {
	backoffMin, backoffMax time.Duration // a failed start or a young death waits this, doubling
	healthyAfter           time.Duration // a worker ready this long resets its slot's back-off
	heartbeat              time.Duration // how often the master asks each worker if it is alive
	stuckAfter             time.Duration // a worker that has not answered for this long is killed
	stopCall               time.Duration // how long an OpStop request may take to be taken
	killAfter              time.Duration // a stopping worker is killed this long after its grace
}

var defaultTimings = timings{
	backoffMin:   250 * time.Millisecond,
	backoffMax:   30 * time.Second,
	healthyAfter: 10 * time.Second,
	heartbeat:    time.Second,
	stuckAfter:   5 * time.Second,
	stopCall:     2 * time.Second,
	// The gateway's close handshake bound (5 s) plus a margin.
	killAfter: 10 * time.Second,
}

// stopProcess asks p to stop for reason, closing its connections
// (gracefully: after up to grace) and waits for it to exit; a process that does not hear the
// request gets SIGTERM (the same fast stop), one that has not exited grace
// plus killAfter later is killed.
func stopProcess(p process, reason ctl.StopReason, graceful bool, grace time.Duration, tm timings) {
	req := ctl.StopRequest{Reason: reason, Graceful: graceful, Grace: grace}
	ctx, cancel := context.WithTimeout(context.Background(), tm.stopCall)
	err := p.Call(ctx, ctl.OpStop, req, nil)
	cancel()
	var re *ctl.RemoteError
	if err != nil && !errors.As(err, &re) {
		// It cannot hear us (a RemoteError means it did: "already
		// stopping", and its drain goes on).
		select {
		case <-p.Exited():
			return
		default:
		}
		_ = p.Signal(syscall.SIGTERM)
	}
	limit := tm.killAfter
	if graceful {
		limit += grace
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-p.Exited():
	case <-t.C:
		_ = p.Signal(syscall.SIGKILL)
		<-p.Exited()
	}
}
