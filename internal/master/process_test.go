package master

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/pkg/reuse"
)

// journal records what the fake processes saw, in order, across processes.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, fmt.Sprintf(format, args...))
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

// fakeProc is a worker that answers at once (tableflip's testProcess): a
// stop makes it exit (journalled with its reason), a signal that ends a
// process ends it, and hung makes it stop answering, as SIGSTOP does to a
// real one.
type fakeProc struct {
	pid    int
	j      *journal
	exited chan struct{}
	once   sync.Once
	status string
	hung   atomic.Bool
	onKill func()                          // called on SIGKILL, when set before it is sent
	stop   atomic.Pointer[ctl.StopRequest] // the stop request it heard
}

func newFakeProc(pid int, j *journal) *fakeProc {
	return &fakeProc{pid: pid, j: j, exited: make(chan struct{})}
}

func (p *fakeProc) exit(status string) {
	p.once.Do(func() {
		p.status = status
		p.j.add("exit %d", p.pid)
		close(p.exited)
	})
}

func (p *fakeProc) PID() int                { return p.pid }
func (p *fakeProc) Exited() <-chan struct{} { return p.exited }
func (p *fakeProc) ExitStatus() string      { return p.status }

func (p *fakeProc) Call(ctx context.Context, op string, args, _ any) error {
	switch op {
	case ctl.OpPing:
	case ctl.OpStop:
		req := args.(ctl.StopRequest)
		p.j.add("%s %d %s", op, p.pid, req.Reason)
	default:
		p.j.add("%s %d", op, p.pid)
	}
	if p.hung.Load() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.exited:
			return ctl.ErrClosed
		}
	}
	select {
	case <-p.exited:
		return ctl.ErrClosed
	default:
	}
	if op == ctl.OpStop {
		req := args.(ctl.StopRequest)
		p.stop.Store(&req)
		go p.exit("exit status 0")
	}
	return nil
}

func (p *fakeProc) CallStream(ctx context.Context, op string, args any, _ func(json.RawMessage) error, result any) error {
	return p.Call(ctx, op, args, result)
}

func (p *fakeProc) Signal(sig os.Signal) error {
	p.j.add("signal %d %v", p.pid, sig)
	if sig == syscall.SIGKILL && p.onKill != nil {
		p.onKill()
	}
	if sig == syscall.SIGKILL || sig == syscall.SIGTERM {
		go p.exit("killed by signal " + sig.String())
	}
	return nil
}

// fakeStarter starts fakeProcs; fail, when set, decides each attempt.
type fakeStarter struct {
	j    *journal
	fail func(ctx context.Context, slot, attempt int) error

	mu       sync.Mutex
	pid      int
	attempts map[int][]time.Time    // per slot, when each start began
	lns      map[int][]net.Listener // per slot, the socket each start got
}

func (f *fakeStarter) start(ctx context.Context, slot int, ln net.Listener) (process, error) {
	f.mu.Lock()
	f.pid++
	pid, attempt := f.pid, len(f.attempts[slot])
	f.attempts[slot] = append(f.attempts[slot], time.Now())
	f.lns[slot] = append(f.lns[slot], ln)
	f.mu.Unlock()
	f.j.add("start %d", slot)
	if f.fail != nil {
		if err := f.fail(ctx, slot, attempt); err != nil {
			return nil, err
		}
	}
	return newFakeProc(pid, f.j), nil
}

func (f *fakeStarter) attemptsOf(slot int) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.attempts[slot]...)
}

func (f *fakeStarter) listenerOf(slot, attempt int) net.Listener {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lns[slot][attempt]
}

// fastTimings are the supervisor's bounds shrunk to milliseconds. Every
// death backs off unless a test lowers healthyAfter.
var fastTimings = timings{
	backoffMin:   20 * time.Millisecond,
	backoffMax:   160 * time.Millisecond,
	healthyAfter: time.Hour,
	heartbeat:    10 * time.Millisecond,
	stuckAfter:   100 * time.Millisecond,
	stopCall:     time.Second,
	killAfter:    time.Second,
}

// syncBuffer is a log destination the test reads while the table writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testTable is a table of n fake workers on real loopback SO_REUSEPORT
// sockets.
type testTable struct {
	*table
	t     *testing.T
	j     *journal
	st    *fakeStarter
	log   *syncBuffer
	first []net.Listener
}

func newTestTable(t *testing.T, n int, tm timings) *testTable {
	t.Helper()
	ctx := context.Background()
	lns, err := reuse.ListenN(ctx, "127.0.0.1:0", n)
	if err != nil {
		t.Fatal(err)
	}
	addr := lns[0].Addr().String()
	j := &journal{}
	st := &fakeStarter{j: j, attempts: map[int][]time.Time{}, lns: map[int][]net.Listener{}}
	procs := make([]process, n)
	for i := range procs {
		procs[i], _ = st.start(ctx, i, lns[i])
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	listen := func(context.Context) (net.Listener, error) { return reuse.Bind(addr) }
	tt := &testTable{table: newTable(tm, st, listen, lns, procs, log), t: t, j: j, st: st, log: logs, first: lns}
	t.Cleanup(func() {
		tt.Stop(false, 0)
		if t.Failed() {
			t.Logf("journal: %q\nlog:\n%s", j.all(), logs)
		}
	})
	return tt
}

// cur is slot's current fake worker, or nil.
func (tt *testTable) cur(slot int) *fakeProc {
	for _, r := range tt.children() {
		if r.slot == slot && r.proc != nil && r.state != stateStopping {
			return r.proc.(*fakeProc)
		}
	}
	return nil
}

// socketOpen reports whether the master holds slot's socket.
func (tt *testTable) socketOpen(slot int) bool {
	var open bool
	tt.do(func() { open = tt.slots[slot].ln != nil })
	return open
}

// waitFor polls cond until it returns nil or the deadline passes (nats'
// checkFor).
func waitFor(t *testing.T, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", d, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitNewWorker waits until slot runs a worker other than old.
func (tt *testTable) waitNewWorker(slot int, old *fakeProc) *fakeProc {
	tt.t.Helper()
	var p *fakeProc
	waitFor(tt.t, 10*time.Second, func() error {
		p = tt.cur(slot)
		if p == nil || p == old {
			return fmt.Errorf("slot %d still has no new worker", slot)
		}
		return nil
	})
	return p
}
