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
	"sync/atomic"
	"time"

	"github.com/wsfleet/wsfleet/internal/admin"
	"github.com/wsfleet/wsfleet/internal/adminui"
	"github.com/wsfleet/wsfleet/internal/certs"
	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/internal/httpapi"
	"github.com/wsfleet/wsfleet/internal/sdnotify"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/hub"
	"github.com/wsfleet/wsfleet/pkg/reuse"
)

// Master runs one cluster on one host.
type Master struct {
	opts      Options
	log       *slog.Logger
	logOut    io.Writer
	app       app.App
	workerBin string // the program the workers run
	started   time.Time

	pid     *pidFile
	ctlLn   net.Listener
	admin   *admin.Server // nil without -admin-listen
	nats    *bus.Embedded // nil with an external NATS
	natsURL string
	bus     *bus.Client
	addr    string // the resolved listen address

	timersCtx  context.Context
	stopTimers context.CancelFunc
	wg         sync.WaitGroup        // timers, child waiters, control accept loop
	lns        []net.Listener        // the slots' sockets until the table owns them
	table      atomic.Pointer[table] // the workers; nil until they all started
	lead       *leadership
	mu         sync.Mutex    // guards timers
	timers     int           // cluster timers started
	done       chan struct{} // closed when the cluster has stopped
	stopOnce   sync.Once

	api        *httpapi.Handler // nil without -api-key-file (admin_api.go)
	apiQuerier *hub.Querier

	ui        *adminui.Handler // nil without -admin-password-file (admin_ui.go)
	uiQuerier *hub.Querier     // the page's own, when the API has none

	tickets *certs.Ring // TLS session ticket keys; nil without -tls-cert (tickets.go)

	metrics       metricsState  // the workers' last figures, for /metrics (metrics.go)
	reloads       atomic.Uint64 // reloads asked for
	reloadsFailed atomic.Uint64 // and failed

	notifyMu  sync.Mutex  // guards reloading
	reloading int         // reloads running, for systemd's RELOADING=1 (notify.go)
	clusterUp atomic.Bool // the masters' query is served (clusterstatus.go)
}

// New returns a Master; Start runs it.
func New(opts Options, log *slog.Logger) (*Master, error) {
	if opts.App == nil {
		return nil, errors.New("master: no application")
	}
	bin := opts.WorkerBin
	if bin == "" {
		// This program, by the name it has now: a reload after the file
		// was replaced runs the new one.
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("master: find this program, to run it as the workers: %w", err)
		}
		bin = exe
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 15 * time.Second
	}
	out := opts.LogOut
	if out == nil {
		out = os.Stderr
	}
	return &Master{opts: opts, log: log, logOut: out, app: opts.App, workerBin: bin, done: make(chan struct{})}, nil
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
	if err := m.newTicketRing(); err != nil {
		return err
	}
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
	// The master never accepts: it holds the slots' sockets outside its
	// netpoller, or every connection a worker accepts would wake it too.
	for i, ln := range lns {
		if lns[i], err = reuse.Hold(ln); err != nil {
			ln.Close()
			for j, ln := range lns {
				if j != i {
					ln.Close()
				}
			}
			return fmt.Errorf("master: -listen: %w", err)
		}
	}
	m.addr = lns[0].Addr().String()
	m.lns = lns
	if err := m.startControl(); err != nil {
		return err
	}
	if err := m.startAdmin(); err != nil {
		return err
	}
	procs, err := m.startWorkers(ctx)
	if err != nil {
		return err
	}
	tm := defaultTimings
	if m.opts.WorkerTimeout > 0 { // 0: a caller that set none
		tm.stuckAfter = m.opts.WorkerTimeout
	}
	tbl := newTable(tm, execStarter{m}, m.listenSlot, m.lns, procs, m.log)
	tbl.do(func() { tbl.handoff = m.opts.Handoff })
	m.table.Store(tbl)
	m.timersCtx, m.stopTimers = context.WithCancel(context.Background())
	if err := m.startLeadership(m.timersCtx); err != nil {
		return fmt.Errorf("master: %w", err)
	}
	if cs, ok := m.app.(app.ClusterStarter); ok {
		if err := cs.StartCluster(m.timersCtx, cluster{m}); err != nil {
			return fmt.Errorf("master: app: %w", err)
		}
	}
	if err := m.serveClusterStatus(); err != nil {
		return err
	}
	m.rotateTickets(m.timersCtx)
	m.checkMigrateReq()
	m.log.Info("cluster started", "listen", m.addr, "workers", m.opts.Count, "app", m.opts.AppName, "nats", m.natsURL)
	m.notifyReady(m.timersCtx) // systemd: READY=1 (notify.go)
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
// When one fails, the others are stopped again.
func (m *Master) startWorkers(ctx context.Context) ([]process, error) {
	procs := make([]process, len(m.lns))
	errs := make([]error, len(m.lns))
	var wg sync.WaitGroup
	for i, ln := range m.lns {
		wg.Go(func() {
			p, err := m.startChild(ctx, i, ln)
			if err != nil {
				errs[i] = err
				return
			}
			procs[i] = p
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, p := range procs {
			if p != nil {
				wg.Go(func() { stopProcess(p, ctl.StopShutdown, false, 0, defaultTimings) })
			}
		}
		wg.Wait()
		return nil, err
	}
	return procs, nil
}

// listenSlot opens a fresh socket for a slot whose socket was closed:
// bound, not listening, so the kernel queues no connection on it until the
// replacement worker is about to accept (it calls reuse.Activate). A
// replacement that fails to start so resets nobody.
func (m *Master) listenSlot(context.Context) (net.Listener, error) {
	ln, err := reuse.Bind(m.addr)
	if err != nil {
		return nil, err
	}
	return reuse.Hold(ln) // outside the netpoller, once the worker makes it listen
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
		if r.proc == nil {
			continue
		}
		callCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := r.proc.Call(callCtx, ctl.OpReloadTLS, nil, nil); err != nil {
			errs = append(errs, fmt.Errorf("worker %d (pid %d): %w", r.slot, r.pid, err))
		}
		cancel()
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("master: reload TLS: %w", err)
	}
	m.log.Info("TLS certificate reloaded")
	return nil
}

// Reload replaces every worker, one slot at a time; see table.Reload.
func (m *Master) Reload(ctx context.Context, graceful bool, grace time.Duration) error {
	m.reloads.Add(1)
	t := m.table.Load()
	if t == nil {
		m.reloadsFailed.Add(1)
		return errStarting
	}
	m.reloadBegins() // systemd: RELOADING=1, then READY=1 (notify.go)
	defer m.reloadEnds(ctx)
	m.reloadAPIKey()
	m.reloadAdminPassword()
	err := t.Reload(graceful, grace)
	if err != nil {
		m.reloadsFailed.Add(1)
	}
	return err
}

// errStarting answers a request that needs the workers while they start.
var errStarting = errors.New("master: still starting")

// children lists the workers (none while they start).
func (m *Master) children() []childRef {
	if t := m.table.Load(); t != nil {
		return t.children()
	}
	return nil
}

// Stop stops the cluster: every client gets 1001, gracefully after up to
// grace. It is safe to call more than once and from several goroutines; all
// return when the cluster has stopped.
func (m *Master) Stop(graceful bool, grace time.Duration) {
	m.stopOnce.Do(func() {
		m.log.Info("stopping", "graceful", graceful, "grace", grace)
		m.notify(sdnotify.Stopping) // systemd (notify.go)
		m.stopTimers()
		if t := m.table.Load(); t != nil {
			t.Stop(graceful, grace)
		}
		m.teardown()
		m.log.Info("stopped")
		close(m.done)
	})
	<-m.done
}

// teardown releases what Start acquired, in reverse order.
func (m *Master) teardown() {
	if m.stopTimers != nil {
		m.stopTimers()
	}
	if t := m.table.Load(); t != nil {
		t.Stop(false, 0) // done already, unless Start failed late
	} else {
		for _, ln := range m.lns {
			ln.Close()
		}
	}
	if m.ctlLn != nil {
		m.ctlLn.Close()
	}
	m.stopAdmin()
	m.stopAPI()
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
