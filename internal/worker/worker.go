package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/internal/certs"
	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/internal/ratelog"
	"github.com/wsfleet/wsfleet/internal/webhook"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/auth"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/history"
	"github.com/wsfleet/wsfleet/pkg/hub"
	"github.com/wsfleet/wsfleet/pkg/reuse"
)

// Options configures a worker.
type Options struct {
	// Slot is the worker's index in the master's table.
	Slot int
	// Node names this host in connection ids. Required.
	Node string
	// Listener is the SO_REUSEPORT socket to accept on. Required.
	Listener net.Listener
	// Control is the connection to the master. Required.
	Control io.ReadWriteCloser
	// Bus configures the NATS connection (URL and Prefix required).
	Bus bus.Options
	// App is the application. Required.
	App app.App
	// Gateway configures the connection engine; IDPrefix is set here.
	Gateway gateway.Options
	// Events publishes connection events for backends (-events).
	Events bool
	// Webhook POSTs connection events to a backend over HTTP (-webhook,
	// docs/webhook.md); an empty URL: off. Log is set here.
	Webhook webhook.Options
	// Certs, when set, is the TLS certificate the gateway serves
	// (Gateway.TLS comes from it); ctl.OpReloadTLS rereads its files.
	Certs *certs.Store
	// Log is the worker's logger.
	Log *slog.Logger

	// MaxRooms is the most rooms one connection may be in (-max-rooms).
	// Default hub.DefaultMaxRooms.
	MaxRooms int
	// History says which rooms keep their messages in JetStream
	// (-history); HistoryReplicas is the stream's replicas.
	History         history.Rules
	HistoryReplicas int
	HistoryMaxBytes int64
	// Tokens, when set, checks every client's connection token
	// (-jwt-secret-file, -jwt-key-file): 401 without a valid one, and the
	// connection bound to its sub.
	Tokens *auth.Verifier
	// TokenExpireClose closes a connection with app.StatusTokenExpired
	// when its token expires, unless the application refreshed it
	// (-jwt-expire-close).
	TokenExpireClose bool
	// EventHeaders are the request headers an open event carries
	// (-events-headers); none by default.
	EventHeaders []string
}

// Worker is one running worker.
type Worker struct {
	opts    Options
	log     *slog.Logger
	gw      *gateway.Server
	bc      *bus.Client
	hub     *hub.Hub
	ctl     *ctl.Conn
	started time.Time
	stopReq chan ctl.StopRequest
	tokens  *tokens // nil without Options.Tokens
	hook    *hook   // nil without Options.Webhook
	pid     int
	budget  *budget // the bytes waiting in the mailboxes, and the 1013 closes
	latency latency // broadcast delivery latency (metrics.go)
	handler handler // the gateway's callbacks; a hand-off's imports use it too

	handoffs sync.WaitGroup // connections being received (handoff_recv.go)

	mu       sync.Mutex
	draining bool
	ticks    ticks
	apps     sync.WaitGroup // connections' mailbox goroutines
}

// registry is the gateway's connection registry, for the hub, which is
// made before the gateway.
type registry struct{ w *Worker }

func (r registry) Lookup(id string) *gateway.Conn { return r.w.gw.Lookup(id) }
func (r registry) Len() int                       { return r.w.gw.Len() }

// ticks remembers the last tick delivered per cluster timer.
type ticks struct {
	mu   sync.Mutex
	last map[int]uint64
}

// first reports whether tk is newer than every tick of its timer
// delivered so far, and records it.
func (t *ticks) first(tk bus.Tick) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = make(map[int]uint64)
	}
	if last, seen := t.last[tk.Timer]; seen && tk.Seq <= last {
		return false
	}
	t.last[tk.Timer] = tk.Seq
	return true
}

// Run starts the worker and serves until the master asks it to stop, the
// master goes away, or ctx ends (a fast stop with 1001). A start-up failure
// is reported to the master as a "failed" event and returned.
func Run(ctx context.Context, opts Options) (err error) {
	w := &Worker{
		opts:    opts,
		log:     opts.Log,
		ctl:     ctl.NewConn(opts.Control),
		started: time.Now(),
		stopReq: make(chan ctl.StopRequest, 1),
		pid:     os.Getpid(),
		budget:  &budget{},
	}
	defer func() {
		if err != nil {
			_ = w.ctl.Notify(ctl.EventFailed, err.Error()) // the master may be gone
		}
		w.ctl.Close()
	}()
	if err := w.start(ctx); err != nil {
		return err
	}
	return w.serve(ctx)
}

func (w *Worker) start(ctx context.Context) error {
	o := w.opts
	bc, err := bus.Connect(ctx, o.Bus)
	if err != nil {
		return err
	}
	w.bc = bc
	self := bus.WorkerID{Node: o.Node, PID: os.Getpid()}
	hubOpts := hub.Options{Self: self, Bus: bc, Log: w.log, Conns: registry{w}, MaxRooms: o.MaxRooms,
		Delivered: w.latency.observe}
	if o.Tokens != nil {
		w.tokens = &tokens{refusals: ratelog.Limiter{Burst: rateLogBurst}, verifier: o.Tokens, expireClose: o.TokenExpireClose, log: w.log,
			conns: make(map[*gateway.Conn]*tokenState)}
		hubOpts.RefreshToken = w.tokens.refresh
	}
	if len(o.History) > 0 {
		hubOpts.OpenHistory = w.openHistory(bc)
	}
	if f, ok := o.App.(app.KeptFormatter); ok {
		hubOpts.FormatKept = f.FormatKept
	}
	if f, ok := o.App.(app.UserKeptFormatter); ok {
		hubOpts.FormatKeptUser = f.FormatKeptUser
	}
	w.hub = hub.New(hubOpts)
	if err := w.hub.Start(ctx); err != nil {
		bc.Close(ctx)
		return err
	}
	gwOpts := o.Gateway
	gwOpts.IDPrefix = self.ConnIDPrefix()
	if o.Certs != nil {
		gwOpts.TLS = o.Certs.Config()
	}
	// An application's own limit is read as the gateway's: a larger
	// message is closed with 1009 from its header, not read and queued.
	if l, ok := o.App.(app.MessageLimiter); ok && (gwOpts.MaxMessage == 0 || l.MaxMessage() < gwOpts.MaxMessage) {
		gwOpts.MaxMessage = l.MaxMessage()
	}
	_, inline := o.App.(app.Inline)
	h := handler{app: o.App, hub: w.hub, log: w.log, inline: inline, wg: &w.apps, tokens: w.tokens, budget: w.budget}
	adm := &admitter{tokens: w.tokens, events: o.Events || o.Webhook.URL != ""}
	adm.app, _ = o.App.(app.Admitter)
	if o.Events {
		h.events = &events{bc: bc, self: self, log: w.log}
	}
	if o.Webhook.URL != "" {
		wo := o.Webhook
		wo.Log = w.log
		w.hook = &hook{client: webhook.New(wo), hub: w.hub, log: w.log}
		h.hook = w.hook
	}
	if adm.events {
		for _, k := range o.EventHeaders {
			adm.headers = append(adm.headers, http.CanonicalHeaderKey(k))
		}
	}
	gwOpts.Admit = adm.admit // every connection's app.Handshake
	// The worker's own admission and OnOpen only compute (a token's
	// signature, the hub's maps); a webhook waits for its backend, and an
	// application's Admit or a callback not marked Inline may block.
	gwOpts.InlineOpen = inline && adm.app == nil && w.hook == nil
	w.handler = h
	w.gw = gateway.New(gwOpts, h, w.log)
	if _, err := bc.SubscribeAll(w.deliver); err != nil {
		w.hub.Stop()
		bc.Close(ctx)
		return err
	}
	if s, ok := o.App.(app.WorkerStarter); ok {
		if err := s.StartWorker(ctx, w.hub); err != nil {
			w.hub.Stop()
			bc.Close(ctx)
			return fmt.Errorf("worker: app start: %w", err)
		}
	}
	return nil
}

// deliver writes a bus message to this worker's connections, each cluster
// timer tick once.
func (w *Worker) deliver(m bus.Message) {
	if m.Tick != nil && !w.ticks.first(*m.Tick) {
		return
	}
	op := ws.OpText
	if m.Binary {
		op = ws.OpBinary
	}
	// Through the hub: one at a time, and exactly once for connections
	// in a hand-off (pkg/hub/stream.go).
	w.hub.DeliverAll(m, func(skip func(*gateway.Conn) bool) { w.gw.BroadcastSkip(op, m.Data, m.Exclude, skip) })
	if !m.Sent.IsZero() {
		w.latency.observe(m.Sent)
	}
}

// serve accepts connections and answers the master until a stop.
func (w *Worker) serve(ctx context.Context) error {
	// A replacement's socket may come only bound (reuse.Bind), so that
	// the connections sent to it wait until this worker is up; listening
	// now is harmless on a socket that listens already.
	if err := reuse.Activate(w.opts.Listener); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.gw.Serve(runCtx, w.opts.Listener); err != nil {
			w.log.Error("accept loop ended", "err", err)
		}
	})
	wg.Go(func() { w.gw.RunPinger(runCtx) })
	ctlDone := make(chan struct{})
	wg.Go(func() {
		defer close(ctlDone)
		if err := w.ctl.Serve(runCtx, w.handleControl); err != nil {
			w.log.Warn("control connection failed", "err", err)
		}
	})
	if err := w.ctl.Notify(ctl.EventReady, ctl.ReadyEvent{PID: os.Getpid()}); err != nil {
		cancel()
		wg.Wait()
		return fmt.Errorf("worker: tell the master we are ready: %w", err)
	}
	w.log.Info("worker ready", "listen", w.opts.Listener.Addr().String())

	req := ctl.StopRequest{Reason: ctl.StopShutdown}
	select {
	case req = <-w.stopReq:
	case <-ctlDone:
		w.log.Warn("master went away; stopping")
	case <-ctx.Done():
	}
	w.stop(req)
	// The final figures, counted to the last close; the master may be
	// gone.
	_ = w.ctl.Notify(ctl.EventMetrics, w.metrics())
	cancel()
	wg.Wait()
	return nil
}

// stop drains and closes every connection as req says.
func (w *Worker) stop(req ctl.StopRequest) {
	code, reason := closeFor(req.Reason)
	w.log.Info("worker stopping", "reason", req.Reason, "code", code, "graceful", req.Graceful, "grace", req.Grace)
	w.gw.StopAccepting()
	if req.Graceful {
		w.mu.Lock()
		w.draining = true
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), req.Grace)
		if err := w.gw.WaitEmpty(ctx); err != nil {
			w.log.Info("grace period over", "left", w.gw.Len())
		}
		cancel()
	}
	// The close handshake is bounded by the gateway's CloseTimeout; give it
	// a little more before cutting what is left.
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Second)
	defer cancel()
	if err := w.gw.Shutdown(ctx, code, reason); err != nil {
		w.log.Warn("connections cut after the close timeout", "err", err)
	}
	w.handoffs.Wait() // a hand-off being received ends by its deadline
	w.apps.Wait()     // the applications' last OnClose calls
	w.stopHook()
	w.hub.Stop()
	w.bc.Close(ctx)
}

// stopHookMax bounds the time a stopping worker gives the webhook's last
// events: with the gateway's 6 s for the close handshakes, it stays within
// the 10 s after which the master kills a stopping worker.
const stopHookMax = 3 * time.Second

// stopHook sends the webhook events still queued (the close events of the
// connections just closed), for at most -webhook-timeout or stopHookMax,
// whichever is shorter, then cancels the rest.
func (w *Worker) stopHook() {
	if w.hook == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(w.opts.Webhook.Timeout, stopHookMax))
	defer cancel()
	if err := w.hook.client.Shutdown(ctx); err != nil {
		w.log.Warn("webhook events dropped at stop", "err", err)
	}
}

// openHistory opens the rooms' history (-history), for the hub
// (hub.Options.OpenHistory).
func (w *Worker) openHistory(bc *bus.Client) func(ctx context.Context) (*history.Store, error) {
	return func(ctx context.Context) (*history.Store, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return history.Open(ctx, bc.NATS(), history.Options{Prefix: bc.Prefix(), Rules: w.opts.History,
			Replicas: w.opts.HistoryReplicas, MaxBytes: w.opts.HistoryMaxBytes, Log: w.log})
	}
}
