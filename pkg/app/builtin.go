package app

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"
)

// Config holds the built-in applications' settings.
type Config struct {
	// PushInterval is how often the push app sends PushMessage to every
	// connection. Default 10s.
	PushInterval time.Duration
	// PushMessage is what the push app sends. Default "你好!".
	PushMessage string
	// EchoPrefix starts every answer of the echo app; "" answers with the
	// message alone (what a conformance suite expects). Nil: EchoPrefix.
	EchoPrefix *string
}

// The texts of the tutorial the built-in apps reproduce.
const (
	DefaultPushMessage = "你好!"
	PushReply          = "服務器已經收到了你的消息"
	EchoPrefix         = "hello "
)

var builtins = map[string]func(Config) App{
	"chat": func(Config) App { return NewChat() },
	"echo": func(cfg Config) App { return NewEcho(cfg) },
	"none": func(Config) App { return None{} },
	"push": func(cfg Config) App { return NewPush(cfg) },
}

// Names lists the built-in applications.
func Names() []string {
	names := make([]string, 0, len(builtins))
	for n := range builtins {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the built-in application called name.
func New(name string, cfg Config) (App, error) {
	mk, ok := builtins[name]
	if !ok {
		return nil, fmt.Errorf("app: unknown application %q (have %v)", name, Names())
	}
	return mk(cfg), nil
}

// None does nothing: with -events, a backend on NATS does the work.
type None struct{}

// OnOpen accepts every connection.
func (None) OnOpen(Conn) error { return nil }

// OnMessage does nothing.
func (None) OnMessage(Conn, Message) {}

// OnClose does nothing.
func (None) OnClose(Conn, int) {}

// InlineCallbacks: None never blocks.
func (None) InlineCallbacks() {}

// Echo answers every message with its prefix ("hello " by default, as the
// tutorial's first server does) followed by the message.
type Echo struct {
	prefix string
}

// NewEcho returns the echo app with cfg's prefix.
func NewEcho(cfg Config) Echo {
	if cfg.EchoPrefix == nil {
		return Echo{prefix: EchoPrefix}
	}
	return Echo{prefix: *cfg.EchoPrefix}
}

// OnOpen accepts every connection.
func (Echo) OnOpen(Conn) error { return nil }

// OnMessage answers with the prefix; a binary message gets a binary answer.
func (e Echo) OnMessage(c Conn, m Message) {
	out := m.Data
	if e.prefix != "" {
		out = make([]byte, 0, len(e.prefix)+len(m.Data))
		out = append(append(out, e.prefix...), m.Data...)
	}
	c.Send(Message{Binary: m.Binary, Data: out})
}

// OnClose does nothing.
func (Echo) OnClose(Conn, int) {}

// InlineCallbacks: Echo never blocks.
func (Echo) InlineCallbacks() {}

// Push is the tutorial's second server: it logs and acknowledges every
// message, and pushes a greeting to every connection on a cluster-wide
// timer.
type Push struct {
	cfg Config
	log *slog.Logger
}

// NewPush returns the push app with cfg's defaults filled in.
func NewPush(cfg Config) *Push {
	if cfg.PushInterval <= 0 {
		cfg.PushInterval = 10 * time.Second
	}
	if cfg.PushMessage == "" {
		cfg.PushMessage = DefaultPushMessage
	}
	return &Push{cfg: cfg, log: slog.Default()}
}

// StartWorker keeps the worker's logger.
func (p *Push) StartWorker(_ context.Context, w Worker) error {
	p.log = w.Logger()
	return nil
}

// StartCluster starts the one timer of the cluster.
func (p *Push) StartCluster(_ context.Context, c Cluster) error {
	msg := Text(p.cfg.PushMessage)
	c.Every(p.cfg.PushInterval, func(_ context.Context, t Tick) {
		if err := t.Broadcast(msg); err != nil {
			c.Logger().Warn("push failed", "err", err)
		}
	})
	return nil
}

// OnOpen accepts every connection.
func (p *Push) OnOpen(Conn) error { return nil }

// OnMessage logs the message, as the tutorial's `echo $data`, and answers.
// A message's content is the client's, and may be personal: it is logged
// only at debug level (-log-level debug); at info the line says who sent
// how much.
func (p *Push) OnMessage(c Conn, m Message) {
	switch {
	case m.Binary:
		p.log.Info("message", "conn", c.ID(), "bytes", len(m.Data))
	case p.log.Enabled(context.Background(), slog.LevelDebug):
		p.log.Debug("message", "conn", c.ID(), "bytes", len(m.Data), "text", string(m.Data))
	default:
		p.log.Info("message", "conn", c.ID(), "bytes", len(m.Data))
	}
	c.Send(Text(PushReply))
}

// OnClose does nothing.
func (p *Push) OnClose(Conn, int) {}

// InlineCallbacks: Push only queues a reply and writes a log line.
func (p *Push) InlineCallbacks() {}
