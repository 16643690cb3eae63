package gateway

import (
	"crypto/tls"
	"net/http"
	"net/netip"
	"runtime"
	"time"
)

// Options configures a Server. Zero values mean the defaults.
type Options struct {
	// IDPrefix starts every connection id; the server appends a sequence
	// number. Make it unique in the cluster (node and worker).
	IDPrefix string
	// MaxMessage is the largest message, in bytes, a client may send, summed
	// over its fragments. Default 10 MiB.
	MaxMessage int64
	// SendBuffer is the most output, in bytes, queued for one connection
	// behind the frame being written (one frame of any size is taken when
	// nothing waits behind it); more than half of it queued pauses reading
	// the connection. Default 1 MiB.
	SendBuffer int
	// HandshakeTimeout bounds the opening handshake, from accept to the
	// 101 (TLS included); a client whose request head is not complete by
	// then gets 408. Default 10s.
	HandshakeTimeout time.Duration
	// CloseTimeout bounds the wait for the client's close frame after the
	// server sent one, and for queued output to drain on close. Default 5s.
	CloseTimeout time.Duration
	// WriteTimeout bounds one write to a client; a client that accepts no
	// bytes for that long is closed. Default 10s.
	WriteTimeout time.Duration
	// PingInterval is how often the server pings every connection. Default
	// 25s; negative disables pings.
	PingInterval time.Duration
	// IdleTimeout closes a connection from which nothing (not even a pong)
	// was read for this long. Default 60s; negative disables it.
	IdleTimeout time.Duration
	// TCPKeepAlive is the idle time before the kernel's TCP keep-alive
	// probes start on an accepted socket, and the interval between them
	// (9 probes, as Go's). Default 15s, Go's own; negative turns the probes
	// off. Each idle socket sends one probe per interval: at a million
	// connections 15 s is some 66,000 probes and as many acknowledgements
	// a second, while the WebSocket pings (PingInterval) and IdleTimeout
	// already find a dead peer.
	TCPKeepAlive time.Duration

	// HTTP serves plain HTTP requests (no Upgrade header) on the WebSocket
	// port, one request per connection. Nil answers them with 400.
	HTTP http.Handler
	// TrustedProxies are the peers whose X-Forwarded-For (the right-most
	// entry that is not itself a trusted proxy) or, without it, X-Real-IP
	// names the client's address, when that is a bare IP (realip.go).
	// Everyone else's headers are ignored.
	TrustedProxies []netip.Prefix
	// AllowOrigins limits the Origin header of an upgrade; empty allows
	// any origin and requests without one (a mini-program sends none).
	AllowOrigins []string
	// Subprotocols the server speaks, in order of preference: the first
	// one the client also offers is chosen (RFC 6455 §4.2.2).
	Subprotocols []string
	// RequireSubprotocol refuses an upgrade (400) when no subprotocol
	// matches.
	RequireSubprotocol bool
	// TLS, when set, makes every connection TLS (wss://); the handshake
	// counts against HandshakeTimeout. Use GetCertificate to swap
	// certificates without a restart.
	TLS *tls.Config
	// KeepHeaders keeps the upgrade request's headers on the connection
	// (Conn.Header), for applications that forward them (wsfleet's
	// -events). Off, a connection keeps none.
	KeepHeaders bool
	// Deflate negotiates permessage-deflate (RFC 7692) with clients that
	// offer it, with no context takeover either way.
	Deflate bool
	// Cores is how many cores the server's work may take at once; several
	// servers sharing a machine (wsfleet's workers) each set their share.
	// Default GOMAXPROCS. A broadcast is written by Cores goroutines, and
	// Cores epoll pollers serve plain TCP connections, but never more than
	// GOMAXPROCS-1 (at least one): fewer pollers gather more ready sockets
	// per wake-up. (The bound was first set when a poller blocked in
	// epoll_wait and so held its P in a system call; pollers now wait in
	// Go's netpoller, see epoll.go.)
	Cores int

	// Admit, when set, decides every upgrade before the server answers
	// it: it runs on the handshake's goroutine once the request passed
	// the protocol, origin and subprotocol checks, and should return well
	// within HandshakeTimeout. A nil error accepts, and the value becomes
	// the new connection's Value (Handler.OnOpen reads it). A *Refusal
	// refuses with its HTTP status; any other error, or a panic, refuses
	// with 500 and is logged.
	Admit func(r *Request) (any, error)
	// Limits at the door (limits.go). A refusal is counted in
	// Stats.Refused and logged at most once a second per reason.

	// MaxConns is the most connections the server holds; an upgrade over
	// it gets 503. Default 0: no limit.
	MaxConns int
	// MaxConnsPerIP is the most connections one client address (after
	// TrustedProxies) holds; an upgrade over it gets 429. Default 0: no
	// limit.
	MaxConnsPerIP int
	// MaxHandshakesPerIP is the most handshakes one peer address may have
	// in progress (accepted, request head not yet answered); a connection
	// over it gets 429 at once. This keeps slowloris sockets from one
	// address from taking the descriptors others need. TrustedProxies are
	// not bound by it: every client behind them shares their address.
	// Default 32.
	MaxHandshakesPerIP int
	// MaxRequestHead is the longest request head (request line and
	// headers), in bytes: over it, 431 (414 when the request line alone
	// is longer). Default 32 KiB, nginx's large_client_header_buffers
	// (4 x 8 KiB): browsers with large cookies and long token URLs fit.
	MaxRequestHead int
	// InlineOpen says that Admit and Handler.OnOpen never block (no
	// network round trip, no lock held long): on Linux, without TLS, a
	// request that is complete when its socket is accepted is then
	// upgraded, admitted and opened on the accept loop itself, which is
	// the cheapest. Otherwise each goes on a goroutine of its own, so that
	// a slow Admit or OnOpen delays only its own client. Default false.
	InlineOpen bool
}

// pollers is how many epoll pollers the server runs (see Options.Cores).
func (o *Options) pollers() int { return max(1, min(o.Cores, runtime.GOMAXPROCS(0)-1)) }

func (o Options) withDefaults() Options {
	if o.MaxMessage == 0 {
		o.MaxMessage = 10 << 20
	}
	if o.SendBuffer == 0 {
		o.SendBuffer = 1 << 20
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	if o.CloseTimeout == 0 {
		o.CloseTimeout = 5 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval == 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.TCPKeepAlive == 0 {
		o.TCPKeepAlive = 15 * time.Second
	}
	if o.MaxHandshakesPerIP <= 0 {
		o.MaxHandshakesPerIP = 32
	}
	if o.MaxRequestHead <= 0 {
		o.MaxRequestHead = 32 << 10
	}
	if o.Cores <= 0 {
		o.Cores = runtime.GOMAXPROCS(0)
	}
	return o
}
