package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsfleet/wsfleet/internal/ratelog"
)

// MaxAnswer bounds the body of an answer, in bytes; a longer one is a
// failed event.
const MaxAnswer = 1 << 20

// Options configures a Client.
type Options struct {
	// URL is where every event is POSTed. Required.
	URL string
	// Timeout bounds one request, from sending it to its answer read
	// (-webhook-timeout); an open's wait for a free slot counts too.
	// Default 5s.
	Timeout time.Duration
	// Concurrency is the most requests in flight at once
	// (-webhook-concurrency). Default 64.
	Concurrency int
	// Secret, when set, signs every body: X-Wsfleet-Signature is
	// "sha256=" and the hex HMAC-SHA256 of the body under it.
	Secret []byte
	// Log is where failures are logged. Default slog.Default().
	Log *slog.Logger
	// Transport carries the requests. Default: a keep-alive transport that
	// keeps up to Concurrency idle connections to the backend.
	Transport http.RoundTripper
}

// Stats are a Client's counters since it started.
type Stats struct {
	Sent      uint64 // events answered with 2xx (or an open with 403)
	Failed    uint64 // events that failed: unreachable, timeout, non-2xx, bad answer
	QueueFull uint64 // messages refused because their connection's queue was full
}

// Client POSTs one worker's events. Its methods may be called from any
// goroutine.
type Client struct {
	opts  Options
	http  *http.Client
	slots chan struct{} // one per request in flight
	base  context.Context
	stop  context.CancelFunc
	fails ratelog.Limiter

	pending atomic.Int64 // bytes waiting in all the queues
	sent    atomic.Uint64
	failed  atomic.Uint64
	full    atomic.Uint64

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup // the queues' goroutines
}

// New returns a Client for o.
func New(o Options) *Client {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 64
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Transport == nil {
		o.Transport = &http.Transport{
			Proxy:               nil, // the backend is ours: no HTTP_PROXY detour
			MaxIdleConnsPerHost: o.Concurrency,
			MaxConnsPerHost:     o.Concurrency,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}
	}
	base, stop := context.WithCancel(context.Background())
	return &Client{
		opts: o,
		http: &http.Client{
			Transport: o.Transport,
			// A redirect is not followed: the backend's answer is the
			// answer, and a 3xx is a failure (docs/webhook.md).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		slots: make(chan struct{}, o.Concurrency),
		base:  base,
		stop:  stop,
	}
}

// Stats returns the Client's counters.
func (c *Client) Stats() Stats {
	return Stats{Sent: c.sent.Load(), Failed: c.failed.Load(), QueueFull: c.full.Load()}
}

// Call POSTs one event (kind is its name, v its body) for connection
// conn and returns the answer's commands. A failure is logged, counted and
// returned. An open answered with HTTP 403 is a refusal with 4003.
func (c *Client) Call(kind, conn string, v any) (*Reply, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("webhook: encode %s event: %w", kind, err)
	}
	return c.call(kind, conn, body)
}

func (c *Client) call(kind, conn string, body []byte) (*Reply, error) {
	r, err := c.do(kind, body)
	if err != nil {
		c.failed.Add(1)
		if ok, dropped := c.fails.Allow(time.Now()); ok {
			c.opts.Log.Error("webhook request failed", "event", kind, "conn", conn, "url", c.opts.URL,
				"err", err, "unlogged_failures", dropped)
		}
		return nil, err
	}
	c.sent.Add(1)
	return r, nil
}

// do waits for a slot, sends the request and reads the answer. An open's
// time starts at once: a connection waits at most Timeout for its open,
// slot included. A queued event's starts with its slot: the connection's
// queue bounds how many wait, and Shutdown ends the wait.
func (c *Client) do(kind string, body []byte) (*Reply, error) {
	ctx, cancel := c.base, context.CancelFunc(func() {})
	if kind == KindOpen {
		ctx, cancel = context.WithTimeout(c.base, c.opts.Timeout)
	}
	defer cancel()
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return nil, fmt.Errorf("webhook: no free slot (%d in flight): %w", cap(c.slots), ctx.Err())
	}
	if kind != KindOpen {
		ctx, cancel = context.WithTimeout(c.base, c.opts.Timeout)
		defer cancel()
	}
	return c.post(ctx, kind, body)
}

// post sends one request and reads its answer.
func (c *Client) post(ctx context.Context, kind string, body []byte) (*Reply, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "wsfleet-webhook")
	req.Header.Set("X-Wsfleet-Event", kind)
	if len(c.opts.Secret) > 0 {
		req.Header.Set("X-Wsfleet-Signature", Sign(c.opts.Secret, body))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswer+1))
	if err != nil {
		return nil, fmt.Errorf("webhook: read the answer: %w", err)
	}
	switch {
	case kind == KindOpen && resp.StatusCode == http.StatusForbidden:
		return &Reply{Refuse: &CloseCommand{Code: 4003, Reason: "forbidden"}}, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, fmt.Errorf("webhook: backend answered %s", resp.Status)
	case len(b) > MaxAnswer:
		return nil, fmt.Errorf("webhook: answer over %d bytes", MaxAnswer)
	}
	r := &Reply{}
	if len(bytes.TrimSpace(b)) == 0 {
		return r, nil // 204, or 200 with nothing to ask
	}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("webhook: the answer is not the JSON of docs/webhook.md: %w", err)
	}
	return r, nil
}

// Sign is the X-Wsfleet-Signature of body under secret: "sha256=" and
// the hex HMAC-SHA256.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Shutdown stops taking events, then waits for the queues to send what
// they hold until ctx ends; it then cancels the requests still under way
// and waits for their goroutines. Safe to call more than once.
func (c *Client) Shutdown(ctx context.Context) error {
	c.mu.Lock()
	c.stopped = true
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.wg.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("webhook: events still queued at shutdown: %w", ctx.Err())
	}
	c.stop()
	<-done
	if t, ok := c.opts.Transport.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
	return err
}

// start counts a queue goroutine; it reports false once Shutdown began.
func (c *Client) start() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false
	}
	c.wg.Add(1)
	return true
}
