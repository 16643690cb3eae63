package bus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// Options configures a Client. Zero values mean the defaults.
type Options struct {
	// URL is the NATS server, or several comma-separated. Required.
	URL string
	// Name identifies this connection in NATS (e.g. "worker 2 pid 4711").
	Name string
	// Prefix is the cluster's subject prefix. Default DefaultPrefix.
	Prefix string
	// ConnectTimeout bounds the first connection. Default 5s.
	ConnectTimeout time.Duration
	// ReconnectWait is the pause between reconnection attempts. Default
	// 250ms (with jitter).
	ReconnectWait time.Duration
	// Logger receives connection state changes. Default slog.Default().
	Logger *slog.Logger
	// Auth is what the client proves itself with. Default: nothing.
	Auth Auth
}

// Client is one process's connection to the bus.
type Client struct {
	nc   *nats.Conn
	subj subjects
	log  *slog.Logger

	reconnects atomic.Uint64

	// pub is this client's publisher id in HeaderSeq; seq counts what it
	// published. seqMu keeps the numbering in the order the messages reach
	// the connection, which is the order NATS keeps.
	pub   string
	seqMu sync.Mutex
	seq   uint64
}

// Subscription is an active subscription; Unsubscribe ends it.
type Subscription struct{ sub *nats.Subscription }

// Unsubscribe stops the delivery of further messages.
func (s *Subscription) Unsubscribe() error {
	if err := s.sub.Unsubscribe(); err != nil {
		return fmt.Errorf("bus: unsubscribe %s: %w", s.sub.Subject, err)
	}
	return nil
}

// Connect connects to NATS. Each try at the first connection must succeed
// within ConnectTimeout; a handshake the server cuts short is tried again,
// handshakeAttempts tries in all (see cutHandshake). After that the client
// reconnects on its own, without end, whenever the connection drops, and
// restores its subscriptions.
func Connect(ctx context.Context, opts Options) (*Client, error) {
	if opts.URL == "" {
		return nil, fmt.Errorf("bus: no NATS URL")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if err := ValidToken(opts.Prefix); err != nil {
		return nil, fmt.Errorf("bus: cluster name: %w", err)
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.ReconnectWait == 0 {
		opts.ReconnectWait = 250 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < opts.ConnectTimeout {
		opts.ConnectTimeout = time.Until(dl)
	}
	pub, err := newPublisherID()
	if err != nil {
		return nil, err
	}
	c := &Client{subj: subjects{opts.Prefix}, log: log, pub: pub}
	natsOpts := append(opts.Auth.natsOptions(),
		nats.Name(opts.Name),
		nats.Timeout(opts.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("bus disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.reconnects.Add(1)
			log.Info("bus reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Error("bus error", "subject", subject, "err", err)
		}),
	)
	for attempt := 1; ; attempt++ {
		nc, err := nats.Connect(opts.URL, natsOpts...)
		if err == nil {
			c.nc = nc
			return c, nil
		}
		if attempt == handshakeAttempts || !cutHandshake(err) {
			return nil, fmt.Errorf("bus: connect to NATS at %s: %w", opts.URL, err)
		}
		log.Warn("bus handshake cut short; trying again", "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("bus: connect to NATS at %s: %w (after %w)", opts.URL, ctx.Err(), err)
		case <-time.After(opts.ReconnectWait):
		}
	}
}

// handshakeAttempts bounds Connect's tries when the server cuts the
// handshake.
const handshakeAttempts = 3

// cutHandshake reports whether err is the server closing a connection it
// had accepted before the client's CONNECT was through. NATS does that
// when its authentication timer (2 s from the accept) runs out, which on a
// saturated machine can happen to a client that was simply not scheduled
// in time; the next try usually succeeds. A refused connection, a wrong
// password or a bad URL is not retried: trying again cannot fix it.
func cutHandshake(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		strings.Contains(strings.ToLower(err.Error()), "authentication timeout")
}

// Reconnects counts the times the client reconnected after losing its
// connection.
func (c *Client) Reconnects() uint64 { return c.reconnects.Load() }

// PublishAll sends m to every connection of the cluster: every worker
// subscribed with SubscribeAll gets it once. At most once, unordered with
// respect to other publishers.
// m is stamped with the time it is sent (Message.Sent) unless it carries
// one.
func (c *Client) PublishAll(m Message) error { return c.publish(c.subj.all(), stamped(m)) }

// SubscribeAll calls fn for every message published with PublishAll (or by
// anyone on <prefix>.all). It returns once the server has registered the
// subscription, so a message published after it returns is delivered.
func (c *Client) SubscribeAll(fn func(Message)) (*Subscription, error) {
	return c.subscribe(c.subj.all(), fn)
}

// PublishRoom sends m to every member of room, on whichever worker: only
// workers subscribed with SubscribeRoom (those holding a member) get it.
// m is stamped like PublishAll's.
func (c *Client) PublishRoom(room string, m Message) error {
	return c.publish(c.subj.room(room), stamped(m))
}

// SubscribeRoom calls fn for every message to room. A worker subscribes
// while it holds a member of the room.
func (c *Client) SubscribeRoom(room string, fn func(Message)) (*Subscription, error) {
	return c.subscribe(c.subj.room(room), fn)
}

// PublishUser sends m to every connection bound to uid, stamped like
// PublishAll's.
func (c *Client) PublishUser(uid string, m Message) error {
	return c.publish(c.subj.user(uid), stamped(m))
}

// SubscribeUser calls fn for every message to uid. A worker subscribes
// while it holds a connection bound to uid.
func (c *Client) SubscribeUser(uid string, fn func(Message)) (*Subscription, error) {
	return c.subscribe(c.subj.user(uid), fn)
}

// PublishConn sends m to the connection id conn, on the subject of the
// worker that owns it.
func (c *Client) PublishConn(conn string, m Message) error {
	subject, err := c.connSubject(conn)
	if err != nil {
		return err
	}
	return c.send(m.natsMsg(subject, conn))
}

// PublishCommand sends cmd to the connection id conn, on the subject of the
// worker that owns it.
func (c *Client) PublishCommand(conn string, cmd Command) error {
	subject, err := c.connSubject(conn)
	if err != nil {
		return err
	}
	return c.send(cmd.natsMsg(subject, conn))
}

func (c *Client) connSubject(conn string) (string, error) {
	id, err := ParseConnID(conn)
	if err != nil {
		return "", err
	}
	return c.subj.worker(id.Worker), nil
}

// SubscribeWorker calls onMessage for every message, and onCommand for
// every command, to one of w's connections, with the connection's id.
func (c *Client) SubscribeWorker(w WorkerID, onMessage func(conn string, m Message), onCommand func(conn string, cmd Command)) (*Subscription, error) {
	return c.subscribeNATS(c.subj.worker(w), func(nm *nats.Msg) {
		if cmd := commandOf(nm); !cmd.empty() {
			onCommand(connOf(nm), cmd)
			return
		}
		onMessage(connOf(nm), messageOf(nm))
	})
}

// PublishEvent publishes a connection event (kind: open, message, close) as
// JSON for backends, at most once.
func (c *Client) PublishEvent(kind string, data []byte) error {
	return c.publish(c.subj.event(kind), Message{Data: data})
}

func (c *Client) publish(subject string, m Message) error { return c.send(m.natsMsg(subject, "")) }

// send publishes nm stamped with HeaderSeq: this client's id and the next
// number, taken in the order the messages are written.
func (c *Client) send(nm *nats.Msg) error {
	if nm.Header == nil {
		nm.Header = nats.Header{}
	}
	c.seqMu.Lock()
	c.seq++
	nm.Header[HeaderSeq] = []string{seqValue(c.pub, c.seq)}
	err := c.nc.PublishMsg(nm)
	c.seqMu.Unlock()
	if err != nil {
		return fmt.Errorf("bus: publish %s: %w", nm.Subject, err)
	}
	return nil
}

// Publisher is this client's publisher id, which HeaderSeq carries.
func (c *Client) Publisher() string { return c.pub }

func (c *Client) subscribe(subject string, fn func(Message)) (*Subscription, error) {
	return c.subscribeNATS(subject, func(nm *nats.Msg) { fn(messageOf(nm)) })
}

func (c *Client) subscribeNATS(subject string, fn nats.MsgHandler) (*Subscription, error) {
	sub, err := c.nc.Subscribe(subject, fn)
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe %s: %w", subject, err)
	}
	if err := c.nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("bus: subscribe %s: %w", subject, err)
	}
	return &Subscription{sub: sub}, nil
}

// Flush waits until the server has processed everything sent so far, for at
// most 5s or until ctx ends.
func (c *Client) Flush(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("bus: flush: %w", err)
	}
	return nil
}

// ConnectedURL is the server currently connected to, or "" while
// disconnected.
func (c *Client) ConnectedURL() string { return c.nc.ConnectedUrlRedacted() }

// Connected reports whether the client is connected now.
func (c *Client) Connected() bool { return c.nc.IsConnected() }

// Close flushes what is pending (bounded by ctx) and closes the connection.
func (c *Client) Close(ctx context.Context) {
	if c.nc.IsConnected() {
		_ = c.Flush(ctx) // best effort: closing anyway
	}
	c.nc.Close()
}
