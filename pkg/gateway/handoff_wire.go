package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"unicode/utf8"
)

// HandoffState is what a plain TCP connection takes to another process in
// a hand-off (a reload that keeps the connection): everything the engine
// knows of it but its socket, which travels beside it (SCM_RIGHTS). A
// connection is handed off only between messages, so no reassembly, UTF-8
// or inflating state is under way: what a client sent of the next frame
// is at most a partial header or control frame (Pending), and deflate is
// negotiated without context takeover both ways (negotiate.go), so the
// compressor keeps no window to carry.
type HandoffState struct {
	ID       string
	Remote   string
	Protocol string
	URI      string
	Header   map[string]string
	Deflate  uint8 // 0: off, else the server's window bits (8-15)
	Created  int64 // unix nanos
	Pending  []byte
	Outbox   []byte // queued output, the first frame maybe partly written
	BytesIn  uint64
	BytesOut uint64
	MsgsIn   uint64
	MsgsOut  uint64
	// App is the worker's own state of the connection (its rooms, user
	// and the application's value), opaque to the engine.
	App []byte
}

// handoffVersion is the encoding's version, its first byte. A receiver
// refuses any other, so two builds that disagree fall back to 1012.
const handoffVersion = 1

// The decoder's bounds: the receiving process trusts nothing it cannot
// check, and spends at most this much on one connection's state.
const (
	maxHandoffID      = 256
	maxHandoffRemote  = 128
	maxHandoffProto   = 1024
	maxHandoffURI     = 32 << 10 // MaxRequestHead
	maxHandoffHeaders = 64
	maxHandoffHeader  = 32 << 10 // all names and values together
	maxHandoffPending = 14 + 125 // a partial header or control frame
	// MaxHandoffOutbox bounds a connection's queued output in a hand-off;
	// a connection with more waits (or drains with 1012).
	MaxHandoffOutbox = 16 << 20
	// MaxHandoffApp bounds the worker's own state of one connection.
	MaxHandoffApp = 1 << 20
)

// ErrHandoffState is wrapped by every decoding failure.
var ErrHandoffState = errors.New("gateway: bad hand-off state")

// MarshalBinary encodes st: a version byte, then each field in order,
// strings and byte slices length-prefixed (uvarint), numbers as uvarints.
func (st *HandoffState) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, 64+len(st.ID)+len(st.Remote)+len(st.Outbox)+len(st.App)+len(st.Pending))
	b = append(b, handoffVersion)
	b = appendBytes(b, []byte(st.ID))
	b = appendBytes(b, []byte(st.Remote))
	b = appendBytes(b, []byte(st.Protocol))
	b = appendBytes(b, []byte(st.URI))
	b = binary.AppendUvarint(b, uint64(len(st.Header)))
	for k, v := range st.Header {
		b = appendBytes(b, []byte(k))
		b = appendBytes(b, []byte(v))
	}
	b = append(b, st.Deflate)
	b = binary.AppendVarint(b, st.Created)
	b = appendBytes(b, st.Pending)
	b = appendBytes(b, st.Outbox)
	for _, n := range []uint64{st.BytesIn, st.BytesOut, st.MsgsIn, st.MsgsOut} {
		b = binary.AppendUvarint(b, n)
	}
	b = appendBytes(b, st.App)
	return b, nil
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// UnmarshalBinary decodes and checks a state MarshalBinary encoded: every
// length within its bound, strings valid UTF-8, the remote an address, the
// deflate bits possible, nothing left over.
func (st *HandoffState) UnmarshalBinary(b []byte) error {
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != handoffVersion {
		return fmt.Errorf("%w: version %d", ErrHandoffState, v)
	}
	*st = HandoffState{
		ID:       d.str(maxHandoffID, "id"),
		Remote:   d.str(maxHandoffRemote, "remote"),
		Protocol: d.str(maxHandoffProto, "subprotocol"),
		URI:      d.str(maxHandoffURI, "uri"),
	}
	if n := d.uvarint(); n > maxHandoffHeaders {
		d.fail("headers", n)
	} else if n > 0 {
		st.Header = make(map[string]string, n)
		total := 0
		for range n {
			k, v := d.str(maxHandoffHeader, "header"), d.str(maxHandoffHeader, "header")
			if total += len(k) + len(v); total > maxHandoffHeader {
				d.fail("headers", uint64(total))
			}
			st.Header[k] = v
		}
	}
	st.Deflate = d.byte()
	st.Created = d.varint()
	st.Pending = d.bytes(maxHandoffPending, "pending")
	st.Outbox = d.bytes(MaxHandoffOutbox, "outbox")
	st.BytesIn, st.BytesOut, st.MsgsIn, st.MsgsOut = d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
	st.App = d.bytes(MaxHandoffApp, "app")
	if d.err != nil {
		return d.err
	}
	if len(d.b) > 0 {
		return fmt.Errorf("%w: %d bytes left over", ErrHandoffState, len(d.b))
	}
	return st.check()
}

// check is what a decoded state must be beyond its bounds.
func (st *HandoffState) check() error {
	switch {
	case st.ID == "":
		return fmt.Errorf("%w: no id", ErrHandoffState)
	case st.Deflate != 0 && (st.Deflate < 8 || st.Deflate > 15):
		return fmt.Errorf("%w: deflate window bits %d", ErrHandoffState, st.Deflate)
	case !validRemote(st.Remote):
		return fmt.Errorf("%w: remote %q", ErrHandoffState, st.Remote)
	}
	return nil
}

// validRemote: "ip:port", or a bare IP (a trusted proxy's).
func validRemote(s string) bool {
	if _, err := netip.ParseAddrPort(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// decoder reads a state's fields, keeping the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(field string, n uint64) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %d out of bounds", ErrHandoffState, field, n)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("short", 0)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("varint", 0)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("varint", 0)
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes reads a length-prefixed field of at most max bytes, copied (the
// buffer it came in is reused).
func (d *decoder) bytes(max int, field string) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(max) || n > uint64(len(d.b)) {
		d.fail(field, n)
		return nil
	}
	if n == 0 {
		return nil
	}
	p := append([]byte(nil), d.b[:n]...)
	d.b = d.b[n:]
	return p
}

func (d *decoder) str(max int, field string) string {
	p := d.bytes(max, field)
	if d.err == nil && !utf8.Valid(p) {
		d.err = fmt.Errorf("%w: %s is not UTF-8", ErrHandoffState, field)
	}
	return string(p)
}
