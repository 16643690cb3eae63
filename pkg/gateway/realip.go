package gateway

import (
	"bytes"
	"net/netip"
)

// The client's address behind a trusted proxy (issue 11, point 4).
//
// A proxy that appends to X-Forwarded-For (nginx's
// $proxy_add_x_forwarded_for) vouches only for the entry it added, the
// right-most; everything to its left came from the client and can be
// forged. So the chain is read from the right, skipping the entries that are
// themselves trusted proxies (a chain of our own proxies), and the first
// other entry is the client. X-Real-IP, which a single proxy sets whole, is
// used only when there is no X-Forwarded-For. Every value must parse as a
// bare IP address: a port, a zone, a name or control characters (terminal
// escape codes meant for `master connections`) make it worthless, and the
// peer's own address is used instead.

// forwardedFor collects a request's forwarding headers as the upgrade reads
// them; resolve picks the client's address once the head is read.
type forwardedFor struct {
	xff    []byte // every X-Forwarded-For value, joined with commas in order
	realIP []byte // the last X-Real-IP value
	seen   bool   // an X-Forwarded-For header was present
}

// add records one header line if it is a forwarding header.
func (f *forwardedFor) add(key, value []byte) {
	switch {
	case bytes.EqualFold(key, []byte("X-Forwarded-For")):
		// Several header lines form one list (RFC 9110 §5.3).
		if f.seen {
			f.xff = append(f.xff, ',')
		}
		f.xff = append(f.xff, value...)
		f.seen = true
	case bytes.EqualFold(key, []byte("X-Real-IP")):
		f.realIP = append(f.realIP[:0], value...)
	}
}

// resolve returns the client's address as the headers name it, given the
// predicate that says which addresses are trusted proxies; ok is false when
// the headers name no usable address and the peer's must be used.
func (f *forwardedFor) resolve(trusted func(netip.Addr) bool) (netip.Addr, bool) {
	if f.seen {
		rest := f.xff
		for {
			var entry []byte
			if i := bytes.LastIndexByte(rest, ','); i >= 0 {
				rest, entry = rest[:i], rest[i+1:]
			} else {
				rest, entry = nil, rest
			}
			ip, ok := parseIP(entry)
			if !ok {
				return netip.Addr{}, false
			}
			if !trusted(ip) || rest == nil {
				// The client, or the last entry of a chain made only of
				// our own proxies: that one is the client then.
				return ip, true
			}
		}
	}
	if f.realIP != nil {
		return parseIP(f.realIP)
	}
	return netip.Addr{}, false
}

// parseIP parses one header value as a bare IP address (surrounding spaces
// allowed); an IPv4-mapped IPv6 address is returned as IPv4.
func parseIP(b []byte) (netip.Addr, bool) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || len(b) > len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255") {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(string(b))
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip.Unmap(), true
}
