package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Limits at the door (issue 11, point 4): how many connections the server
// holds, how many one client address holds, and how many handshakes one
// peer has in progress. Each refusal is counted by reason (Stats.Refused)
// and logged at most once a second per reason, with the number of refusals
// the log left out since its last line.

// reason is why the door turned a client away.
type reason int

const (
	reasonMaxConns   reason = iota // Options.MaxConns reached: 503
	reasonPerIP                    // Options.MaxConnsPerIP reached: 429
	reasonHandshakes               // Options.MaxHandshakesPerIP in progress: 429
	reasonFiles                    // the process is out of file descriptors: 503
	reasonBadRequest               // a request we do not serve: 400, 403, 405, 414, 431
	reasonTimeout                  // the request head took longer than Options.HandshakeTimeout: 408
	numReasons
)

var reasonText = [numReasons]string{
	reasonMaxConns:   "too many connections (-max-conns)",
	reasonPerIP:      "too many connections from one address (-max-conns-per-ip)",
	reasonHandshakes: "too many handshakes in progress from one address",
	reasonFiles:      "out of file descriptors",
	reasonBadRequest: "bad request",
	reasonTimeout:    "request head timed out",
}

// Refusals counts the clients turned away at the door, by reason.
type Refusals struct {
	MaxConns   uint64 `json:"max_conns"`   // 503, Options.MaxConns
	PerIP      uint64 `json:"per_ip"`      // 429, Options.MaxConnsPerIP
	Handshakes uint64 `json:"handshakes"`  // 429, Options.MaxHandshakesPerIP
	Files      uint64 `json:"files"`       // 503, EMFILE or ENFILE on accept
	BadRequest uint64 `json:"bad_request"` // 400, 403, 405, 414 or 431
	Timeouts   uint64 `json:"timeouts"`    // 408, Options.HandshakeTimeout
}

// Add adds o's counts to r (a sum over workers).
func (r *Refusals) Add(o Refusals) {
	r.MaxConns += o.MaxConns
	r.PerIP += o.PerIP
	r.Handshakes += o.Handshakes
	r.Files += o.Files
	r.BadRequest += o.BadRequest
	r.Timeouts += o.Timeouts
}

// Total is the number of refusals of every reason.
func (r Refusals) Total() uint64 {
	return r.MaxConns + r.PerIP + r.Handshakes + r.Files + r.BadRequest + r.Timeouts
}

// door keeps the counts the limits are checked against.
type door struct {
	maxConns, perIP, handshakes int // 0: no limit

	mu      sync.Mutex
	conns   int                // admitted connections not yet ended
	byIP    map[netip.Addr]int // admitted connections by client address
	pending map[netip.Addr]int // handshakes in progress by peer address

	counts [numReasons]atomic.Uint64
	logs   [numReasons]rateLog
}

func newDoor(o *Options) *door {
	return &door{
		maxConns: o.MaxConns, perIP: o.MaxConnsPerIP, handshakes: o.MaxHandshakesPerIP,
		byIP: make(map[netip.Addr]int), pending: make(map[netip.Addr]int),
	}
}

// startHandshake counts a handshake from peer, or reports false when peer
// has its share in progress already.
func (d *door) startHandshake(peer netip.Addr) bool {
	peer = limitKey(peer)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending[peer] >= d.handshakes {
		return false
	}
	d.pending[peer]++
	return true
}

// endHandshake uncounts a handshake startHandshake counted.
func (d *door) endHandshake(peer netip.Addr) {
	peer = limitKey(peer)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pending[peer]--; d.pending[peer] <= 0 {
		delete(d.pending, peer)
	}
}

// reserve counts a connection from client, or returns why it is refused.
// The count and the check are one step, so concurrent handshakes cannot
// overshoot a limit.
func (d *door) reserve(client netip.Addr) (reason, bool) {
	client = limitKey(client)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.maxConns > 0 && d.conns >= d.maxConns {
		return reasonMaxConns, false
	}
	if d.perIP > 0 && d.byIP[client] >= d.perIP {
		return reasonPerIP, false
	}
	d.conns++
	if d.perIP > 0 {
		d.byIP[client]++
	}
	return 0, true
}

// release uncounts a connection reserve counted.
func (d *door) release(client netip.Addr) {
	client = limitKey(client)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conns--
	if d.perIP > 0 {
		if d.byIP[client]--; d.byIP[client] <= 0 {
			delete(d.byIP, client)
		}
	}
}

func (d *door) refusals() Refusals {
	c := &d.counts
	return Refusals{
		MaxConns: c[reasonMaxConns].Load(), PerIP: c[reasonPerIP].Load(),
		Handshakes: c[reasonHandshakes].Load(), Files: c[reasonFiles].Load(),
		BadRequest: c[reasonBadRequest].Load(), Timeouts: c[reasonTimeout].Load(),
	}
}

// refused counts a refusal and logs it, at most once a second per reason:
// a flood of refusals must not become a flood of log lines. Out of file
// descriptors and -max-conns are the operator's business (Warn); the
// others are one client's misbehaviour (Info).
func (d *door) refused(log *slog.Logger, r reason, attrs ...any) {
	d.counts[r].Add(1)
	suppressed, ok := d.logs[r].allow(time.Now())
	if !ok {
		return
	}
	level := slog.LevelInfo
	if r == reasonFiles || r == reasonMaxConns {
		level = slog.LevelWarn
	}
	log.Log(context.Background(), level, "refused: "+reasonText[r], append(attrs, "suppressed", suppressed)...)
}

// rateLog lets one line a second through and counts the others.
type rateLog struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether a line may be written at now and, if so, how many
// were held back since the last one.
func (l *rateLog) allow(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < time.Second {
		l.suppressed++
		return 0, false
	}
	n := l.suppressed
	l.last, l.suppressed = now, 0
	return n, true
}

// statusFor is the HTTP status a refusal by the door's limits answers.
func statusFor(r reason) int {
	switch r {
	case reasonMaxConns, reasonFiles:
		return http.StatusServiceUnavailable
	case reasonTimeout:
		return http.StatusRequestTimeout
	case reasonBadRequest:
		return http.StatusBadRequest
	default:
		return http.StatusTooManyRequests
	}
}

// reject is a refusal of an upgrade with an HTTP status, written by the
// upgrader with Connection: close.
func reject(status int, why string) error {
	return ws.RejectConnectionError(
		ws.RejectionStatus(status),
		ws.RejectionReason(why),
		ws.RejectionHeader(ws.HandshakeHeaderHTTP(http.Header{"Connection": {"close"}})),
	)
}

// limitKey is the address the per-address limits count ip under: itself
// for IPv4, its /64 for IPv6, as one host or subscriber is commonly given a
// whole /64 and could otherwise spread over 2^64 addresses.
func limitKey(ip netip.Addr) netip.Addr {
	if ip.Is6() {
		p, _ := ip.WithZone("").Prefix(64)
		return p.Addr()
	}
	return ip
}

// clientKey is the address a connection is counted under: its remote (the
// peer's "ip:port", or the bare IP a trusted proxy named) as an IP.
func clientKey(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ap.Addr().Unmap()
	}
	ip, _ := netip.ParseAddr(remote)
	return ip.Unmap()
}
