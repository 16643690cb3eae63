package gateway

import (
	"strconv"
	"sync/atomic"

	"github.com/gobwas/ws"
)

// Counters for metrics (issue 13): closes by code, handshake failures by
// reason, and the bytes of connections that ended. Each is one atomic add
// per connection or per refusal, never per message; the bytes of live
// connections are read from the connections themselves when Stats asks.

// numCloseCodes is the size of CloseCounts: the standard codes 1000 to
// 1015, then "4xxx" (4000-4999, the applications'), then "other".
const numCloseCodes = 18

// CloseCounts counts ended connections by the code their OnClose reported,
// in a bounded set of buckets; CloseCodeLabel names each.
type CloseCounts [numCloseCodes]uint64

// closeIndex is the bucket of code in CloseCounts.
func closeIndex(code ws.StatusCode) int {
	switch {
	case code >= 1000 && code <= 1015:
		return int(code - 1000)
	case code >= 4000 && code <= 4999:
		return 16
	default:
		return 17
	}
}

// CloseCodeLabel names bucket i of CloseCounts: "1000" to "1015", "4xxx"
// or "other".
func CloseCodeLabel(i int) string {
	switch {
	case i < 16:
		return strconv.Itoa(1000 + i)
	case i == 16:
		return "4xxx"
	default:
		return "other"
	}
}

// FailReason is why a handshake failed, a bounded set (FailReasonLabel).
type FailReason int

// The reasons a handshake fails.
const (
	FailBadRequest   FailReason = iota // a request we do not serve: 400, 405, a missing header
	FailHeadTooLarge                   // 414 or 431: Options.MaxRequestHead
	FailOrigin                         // 403: Options.AllowOrigins
	FailSubprotocol                    // 400: Options.RequireSubprotocol
	FailAuth                           // 401: Options.Admit (a connection token)
	FailAdmit                          // Options.Admit refused with another status
	FailMaxConns                       // 503: Options.MaxConns
	FailPerIP                          // 429: Options.MaxConnsPerIP
	FailHandshakes                     // 429: Options.MaxHandshakesPerIP
	FailFiles                          // 503: out of file descriptors
	FailTimeout                        // 408: Options.HandshakeTimeout
	FailTLS                            // the TLS handshake failed
	FailOther                          // the upgrade failed otherwise (the client went away)
	numFailReasons
)

var failLabels = [numFailReasons]string{
	FailBadRequest: "bad_request", FailHeadTooLarge: "head_too_large", FailOrigin: "origin",
	FailSubprotocol: "subprotocol", FailAuth: "auth", FailAdmit: "admit", FailMaxConns: "max_conns",
	FailPerIP: "per_ip", FailHandshakes: "handshakes_per_ip", FailFiles: "files",
	FailTimeout: "timeout", FailTLS: "tls", FailOther: "other",
}

// FailReasonLabel is r's name in metrics, "" for a value out of range.
func FailReasonLabel(r FailReason) string {
	if r < 0 || r >= numFailReasons {
		return ""
	}
	return failLabels[r]
}

// failOf is the FailReason of a refusal at the door.
func failOf(r reason) FailReason {
	switch r {
	case reasonMaxConns:
		return FailMaxConns
	case reasonPerIP:
		return FailPerIP
	case reasonHandshakes:
		return FailHandshakes
	case reasonFiles:
		return FailFiles
	case reasonTimeout:
		return FailTimeout
	default:
		return FailBadRequest
	}
}

// counters are the Server's counters for metrics.
type counters struct {
	closes    [numCloseCodes]atomic.Uint64
	fails     [numFailReasons]atomic.Uint64
	bufCloses atomic.Uint64 // closed with 1008 for a full send buffer
	endedIn   uint64        // bytes of ended connections; Server.mu
	endedOut  uint64
}

func (k *counters) failed(r FailReason) { k.fails[r].Add(1) }

// ended counts c's close code; its bytes are added under s.mu by end.
func (k *counters) ended(code ws.StatusCode) { k.closes[closeIndex(code)].Add(1) }

// Metrics are the Server's counters for metrics, beyond Stats.
type Metrics struct {
	// BytesIn and BytesOut are the WebSocket bytes (frames, headers
	// included) read and written, over every connection, ended or live.
	BytesIn, BytesOut uint64
	// Closed counts ended connections by close code.
	Closed CloseCounts
	// Failed counts failed handshakes by FailReason.
	Failed [numFailReasons]uint64
	// SendBufferCloses counts connections closed with 1008 because their
	// send buffer was full.
	SendBufferCloses uint64
}

// Metrics returns the server's counters for metrics.
func (s *Server) Metrics() Metrics {
	var m Metrics
	s.mu.RLock()
	m.BytesIn, m.BytesOut = s.k.endedIn, s.k.endedOut
	for c := range s.conns.all() {
		m.BytesIn += c.bytesIn.Load()
		m.BytesOut += c.bytesOut.Load()
	}
	s.mu.RUnlock()
	for i := range m.Closed {
		m.Closed[i] = s.k.closes[i].Load()
	}
	for i := range m.Failed {
		m.Failed[i] = s.k.fails[i].Load()
	}
	m.SendBufferCloses = s.k.bufCloses.Load()
	return m
}
