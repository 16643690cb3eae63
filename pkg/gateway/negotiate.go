package gateway

import (
	"strconv"

	"github.com/gobwas/httphead"
)

// The permessage-deflate negotiation (RFC 7692 §5, §7.1). The server
// answers every offer it accepts with no context takeover both ways (see
// deflate.go), and with the client's server_max_window_bits when the offer
// has one: it then compresses only the messages that fit that window
// (Conn.compresses). It inflates with the full window, which serves any
// client_max_window_bits, so it never answers that parameter (§7.1.2.2
// allows leaving it out). An offer is declined, and the next one looked at,
// only where §5 says so: an unknown parameter, a bad value, a repeated
// parameter.

const (
	extDeflate              = "permessage-deflate"
	serverNoContextTakeover = "server_no_context_takeover"
	clientNoContextTakeover = "client_no_context_takeover"
	serverMaxWindowBits     = "server_max_window_bits"
	clientMaxWindowBits     = "client_max_window_bits"
)

// windowBitsValues are the answers' values, which must outlive Negotiate
// (gobwas/ws writes the response after it returns).
var windowBitsValues = func() (v [16][]byte) {
	for i := 8; i <= 15; i++ {
		v[i] = []byte(strconv.Itoa(i))
	}
	return v
}()

// deflateExtension is the negotiation state of one handshake.
type deflateExtension struct {
	ok   bool  // an offer was accepted
	bits uint8 // the server_max_window_bits answered; 0 when none
}

// newDeflateExtension returns the negotiation state for one handshake.
func newDeflateExtension() *deflateExtension { return &deflateExtension{} }

// Negotiate answers one offer of the client's Sec-WebSocket-Extensions, in
// the client's order of preference: the first acceptable permessage-deflate
// offer is accepted, the rest are declined (a zero option). It never fails
// the handshake: a bad offer is declined (§5).
func (e *deflateExtension) Negotiate(opt httphead.Option) (httphead.Option, error) {
	if string(opt.Name) != extDeflate || e.ok {
		return httphead.Option{}, nil
	}
	bits, ok := parseDeflateOffer(opt.Parameters)
	if !ok {
		return httphead.Option{}, nil
	}
	e.ok, e.bits = true, bits
	answer := httphead.Option{Name: []byte(extDeflate)}
	answer.Parameters.Set([]byte(serverNoContextTakeover), nil)
	answer.Parameters.Set([]byte(clientNoContextTakeover), nil)
	if bits != 0 {
		// §7.1.2.1: accepted by answering the same or a smaller value.
		answer.Parameters.Set([]byte(serverMaxWindowBits), windowBitsValues[bits])
	}
	return answer, nil
}

// accepted returns the connection's permessage-deflate state: 0 when no
// offer was accepted, else the server's window bits.
func (e *deflateExtension) accepted() wbits {
	switch {
	case !e.ok:
		return 0
	case e.bits == 0:
		return fullWindow
	}
	return wbits(e.bits)
}

// parseDeflateOffer checks an offer's parameters (RFC 7692 §7.1) and
// returns its server_max_window_bits (0 when absent); ok is false when the
// offer must be declined.
func parseDeflateOffer(params httphead.Parameters) (bits uint8, ok bool) {
	var seen [4]bool
	ok = true
	params.ForEach(func(key, val []byte) bool {
		var i int
		switch string(key) {
		case serverNoContextTakeover:
			i, ok = 0, len(val) == 0
		case clientNoContextTakeover:
			i, ok = 1, len(val) == 0
		case serverMaxWindowBits:
			// A value is required (§7.1.2.1).
			i = 2
			bits, ok = windowBits(val)
		case clientMaxWindowBits:
			// The value is optional (§7.1.2.2).
			i = 3
			if len(val) > 0 {
				_, ok = windowBits(val)
			}
		default:
			ok = false // §5: a parameter not defined for an offer
		}
		if ok && seen[i] {
			ok = false // §5: the same parameter twice
		}
		seen[i] = true
		return ok
	})
	return bits, ok
}

// windowBits parses a window-bits value: a decimal integer from 8 to 15
// without leading zeroes (§7.1.2.1), perhaps quoted (§7.1: the quoted
// string's content must be valid as a token).
func windowBits(v []byte) (uint8, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n := 0
	for _, d := range v {
		if d < '0' || d > '9' {
			return 0, false
		}
		n = n*10 + int(d-'0')
	}
	if n < 8 || n > 15 {
		return 0, false
	}
	return uint8(n), true
}
