package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/reuse"
)

// Master runs one cluster on one host.
type Master struct {
	opts    Options
	log     *slog.Logger
	logOut  io.Writer
	app     app.App
	started time.Time

	pid     *pidFile
	ctlLn   net.Listener
	nats    *bus.Embedded // nil with an external NATS
	natsURL string
	bus     *bus.Client
	addr    string // the resolved listen address

	timersCtx  context.Context
	stopTimers context.CancelFunc
	wg         sync.WaitGroup // timers, watchers, child waiters, control accept loop
	opMu       sync.Mutex     // serialises stop and reload
	slots      []*slot
	stopping   bool // guarded by mu
	timers     int  // cluster timers started; guarded by mu
	lead       *leadership
	mu         sync.Mutex    // guards slots' fields and stopping
	done       chan struct{} // closed when the cluster has stopped
	stopOnce   sync.Once
}

// slot is one worker position. Its socket outlives its workers.
type slot struct {
	index    int
	ln       net.Listener // the master's copy; nil while closed
	replace  sync.Mutex   // held while the slot's worker is being replaced
	cur      *child
	old      []*child // replaced workers still draining
	restarts int
	backoff  time.Duration
}

// New returns a Master; Start runs it.
func New(opts Options, log *slog.Logger) (*Master, error) {
	a, err := app.New(opts.App, app.Config{PushInterval: opts.PushInterval})
	if err != nil {
		return nil, err
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 15 * time.Second
	}
	out := opts.LogOut
	if out == nil {
		out = os.Stderr
	}
	return &Master{opts: opts, log: log, logOut: out, app: a, done: make(chan struct{})}, nil
}

// Start brings the cluster up and returns once every worker accepts
// connections. On error everything it started is stopped again.
func (m *Master) Start(ctx context.Context) (err error) {
	m.started = time.Now()
	if m.pid, err = lockPIDFile(m.opts.PIDFile, m.opts.StartArgs); err != nil { // issue 11: private dir, saved args
		return err
	}
	defer func() {
		if err != nil {
			m.teardown()
		}
	}()
	if err := reuse.CheckFree(m.opts.Listen); err != nil {
		if errors.Is(err, reuse.ErrAddrInUse) {
			return fmt.Errorf("master: -listen %s: address already in use", m.opts.Listen)
		}
		return fmt.Errorf("master: -listen %s: %w", m.opts.Listen, err)
	}
	if err := m.startBus(ctx); err != nil {
		return err
	}
	lns, err := reuse.ListenN(ctx, m.opts.Listen, m.opts.Count)
	if err != nil {
		return fmt.Errorf("master: -listen: %w", err)
	}
	m.addr = lns[0].Addr().String()
	for i, ln := range lns {
		m.slots = append(m.slots, &slot{index: i, ln: ln})
	}
	if err := m.startControl(); err != nil {
		return err
	}
	if err := m.startWorkers(ctx); err != nil {
		return err
	}
	m.timersCtx, m.stopTimers = context.WithCancel(context.Background())
	if err := m.startLeadership(m.timersCtx); err != nil {
		return fmt.Errorf("master: %w", err)
	}
	if cs, ok := m.app.(app.ClusterStarter); ok {
		if err := cs.StartCluster(m.timersCtx, cluster{m}); err != nil {
			return fmt.Errorf("master: app: %w", err)
		}
	}
	for _, s := range m.slots {
		m.wg.Go(func() { m.watch(s) })
	}
	m.log.Info("cluster started", "listen", m.addr, "workers", m.opts.Count, "app", m.opts.App, "nats", m.natsURL)
	return nil
}

func (m *Master) startBus(ctx context.Context) error {
	m.natsURL = m.opts.NATS
	if m.natsURL == "" {
		eo, err := m.embeddedOptions() // issue 11: generated credentials (busauth.go)
		if err != nil {
			return err
		}
		e, err := bus.StartEmbedded(eo, m.log)
		if err != nil {
			return fmt.Errorf("master: -nats-listen/-cluster-listen: %w", err)
		}
		m.nats = e
		m.natsURL = e.ClientURL()
	}
	bc, err := bus.Connect(ctx, bus.Options{
		URL: m.natsURL, Prefix: m.opts.ClusterName, Name: "master " + m.opts.Node, Logger: m.log,
		Auth: m.opts.NATSAuth, // issue 11
	})
	if err != nil {
		return fmt.Errorf("master: -nats: %w", err)
	}
	m.bus = bc
	return nil
}

// startWorkers starts every slot's worker, all at once, and waits for all.
func (m *Master) startWorkers(ctx context.Context) error {
	errs := make([]error, len(m.slots))
	var wg sync.WaitGroup
	for i, s := range m.slots {
		wg.Go(func() {
			c, err := m.startChild(ctx, s.index, s.ln)
			errs[i] = err
			if err == nil {
				m.mu.Lock()
				s.cur = c
				m.mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// watch restarts the slot's worker whenever it dies, until the cluster
// stops.
func (m *Master) watch(s *slot) {
	for {
		m.mu.Lock()
		c := s.cur
		m.mu.Unlock()
		select {
		case <-c.exited:
		case <-m.timersCtx.Done():
			return
		}
		if !m.restart(s, c) {
			return
		}
	}
}

// restart replaces the dead worker c of slot s, after a back-off when it
// died young. It returns false when the cluster is stopping.
func (m *Master) restart(s *slot, c *child) bool {
	s.replace.Lock()
	defer s.replace.Unlock()
	m.mu.Lock()
	stopping, replaced := m.stopping, s.cur != c
	m.mu.Unlock()
	if stopping {
		return false
	}
	if replaced {
		return true // a reload replaced it; watch the new one
	}
	lived := time.Since(c.started)
	if lived >= 10*time.Second {
		s.backoff = 0
	} else {
		s.backoff = min(max(2*s.backoff, 250*time.Millisecond), 30*time.Second)
	}
	m.log.Error("worker died", "worker", s.index, "pid", c.pid, "status", c.exitStatus(),
		"lived", lived.Round(time.Millisecond), "restart_in", s.backoff)
	if s.backoff > 0 {
		select {
		case <-time.After(s.backoff):
		case <-m.timersCtx.Done():
			return false
		}
	}
	nc, err := m.startChild(m.timersCtx, s.index, s.ln)
	if err != nil {
		m.log.Error("worker restart failed", "worker", s.index, "err", err)
		// s.cur stays the dead child: watch sees it exited and tries again,
		// with a longer back-off.
		return m.timersCtx.Err() == nil
	}
	m.mu.Lock()
	s.cur = nc
	s.restarts++
	m.mu.Unlock()
	m.log.Info("worker restarted", "worker", s.index, "pid", nc.pid)
	return true
}

// ReloadTLS makes every worker read its TLS certificate files again: new
// connections get the new certificate, open ones keep theirs. A worker that
// cannot read them keeps its current certificate; the errors are returned.
func (m *Master) ReloadTLS(ctx context.Context) error {
	if m.opts.TLSCert == "" {
		return errors.New("master: no -tls-cert to reload")
	}
	var errs []error
	for _, r := range m.children() {
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := r.c.ctl.Call(callCtx, "reload-tls", nil, nil); err != nil {
			errs = append(errs, fmt.Errorf("worker %d (pid %d): %w", r.c.slot, r.c.pid, err))
		}
		cancel()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("master: reload TLS: %w", err)
	}
	m.log.Info("TLS certificate reloaded", "workers", len(m.children()))
	return nil
}

// Reload replaces every worker, one at a time: each replacement accepts on
// the slot's socket before the old worker is told to stop, with close code
// 1012 (gracefully: after up to grace). It returns once every old worker has
// exited.
func (m *Master) Reload(ctx context.Context, graceful bool, grace time.Duration) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	if m.isStopping() {
		return errors.New("master: stopping")
	}
	m.log.Info("reload", "graceful", graceful, "grace", grace)
	var olds sync.WaitGroup
	defer olds.Wait()
	for _, s := range m.slots {
		s.replace.Lock()
		nc, err := m.startChild(ctx, s.index, s.ln)
		if err != nil {
			s.replace.Unlock()
			return fmt.Errorf("master: reload stopped at worker %d, the rest keep running: %w", s.index, err)
		}
		m.mu.Lock()
		old := s.cur
		s.cur = nc
		s.old = append(s.old, old)
		m.mu.Unlock()
		s.replace.Unlock()
		m.log.Info("worker replaced", "worker", s.index, "old_pid", old.pid, "pid", nc.pid)
		olds.Go(func() {
			old.stop(int(statusServiceRestart), graceful, grace)
			m.mu.Lock()
			s.old = without(s.old, old)
			m.mu.Unlock()
		})
	}
	return nil
}

const (
	statusGoingAway      = 1001
	statusServiceRestart = 1012
)

func without(cs []*child, c *child) []*child {
	out := cs[:0]
	for _, x := range cs {
		if x != c {
			out = append(out, x)
		}
	}
	return out
}

func (m *Master) isStopping() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stopping
}

// Stop stops the cluster: every client gets 1001, gracefully after up to
// grace. It is safe to call more than once and from several goroutines; all
// return when the cluster has stopped.
func (m *Master) Stop(graceful bool, grace time.Duration) {
	m.stopOnce.Do(func() {
		m.opMu.Lock()
		defer m.opMu.Unlock()
		m.log.Info("stopping", "graceful", graceful, "grace", grace)
		m.mu.Lock()
		m.stopping = true
		m.mu.Unlock()
		m.stopTimers()
		m.stopWorkers(graceful, grace)
		m.teardown()
		m.log.Info("stopped")
		close(m.done)
	})
	<-m.done
}

// stopWorkers closes the slots' sockets, so new connections are refused, and
// stops every worker at once.
func (m *Master) stopWorkers(graceful bool, grace time.Duration) {
	var wg sync.WaitGroup
	for _, s := range m.slots {
		// Wait out a restart in progress (timers are cancelled, so it ends
		// at once) so that no new worker appears behind our back.
		s.replace.Lock()
		m.mu.Lock()
		if s.ln != nil {
			s.ln.Close()
			s.ln = nil
		}
		for _, c := range append([]*child{s.cur}, s.old...) {
			if c != nil {
				wg.Go(func() { c.stop(statusGoingAway, graceful, grace) })
			}
		}
		m.mu.Unlock()
		s.replace.Unlock()
	}
	wg.Wait()
}

// teardown releases what Start acquired, in reverse order.
func (m *Master) teardown() {
	if m.stopTimers != nil {
		m.stopTimers()
	}
	for _, s := range m.slots {
		if s.cur != nil {
			select {
			case <-s.cur.exited:
			default:
				s.cur.kill()
			}
		}
		if s.ln != nil {
			s.ln.Close()
		}
	}
	if m.ctlLn != nil {
		m.ctlLn.Close()
	}
	m.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if m.bus != nil {
		m.bus.Close(ctx)
	}
	if m.nats != nil {
		m.nats.Shutdown()
	}
	if m.ctlLn != nil {
		os.Remove(SocketPath(m.opts.PIDFile))
	}
	m.pid.remove()
}

// Done is closed once the cluster has stopped.
func (m *Master) Done() <-chan struct{} { return m.done }

// cluster is what the master offers the application.
type cluster struct{ m *Master }

func (c cluster) Broadcast(msg app.Message) error {
	return c.m.bus.PublishAll(bus.Message{Binary: msg.Binary, Data: msg.Data})
}

func (c cluster) Logger() *slog.Logger { return c.m.log }

func (c cluster) Every(d time.Duration, fn func(context.Context, app.Tick)) {
	c.m.mu.Lock()
	c.m.timers++
	timer := c.m.timers
	c.m.mu.Unlock()
	c.m.every(timer, d, fn)
}
