package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// maxPayload bounds what a client reads of one server message; the
// benchmark's messages are far smaller.
const maxPayload = 1 << 16

// client is one benchmark WebSocket connection. One goroutine owns it: it
// reads, and writes only in answer (pongs, the echo loop).
type client struct {
	nc  net.Conn
	br  *bufio.Reader
	buf []byte // payload buffer, grown on demand
}

// dialer opens client connections from one source address, choosing the
// source port at connect time (IP_BIND_ADDRESS_NO_PORT) so that each source
// address offers the whole ephemeral port range to the one destination.
// Its sockets send no TCP keep-alive probes (Go's dialer would, every
// 15 s): the clients stand for browsers and mini-programs, and at a
// million idle connections 15 s is some 66,000 probes a second, each
// acknowledged by the server's kernel.
func dialer(src net.IP, timeout time.Duration) ws.Dialer {
	nd := &net.Dialer{
		Timeout:   timeout,
		KeepAlive: -1,
		LocalAddr: &net.TCPAddr{IP: src},
		Control: func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_IP, unix.IP_BIND_ADDRESS_NO_PORT, 1)
			})
			return errors.Join(err, serr)
		},
	}
	return ws.Dialer{Timeout: timeout, NetDial: nd.DialContext}
}

func dialClient(ctx context.Context, d ws.Dialer, url string) (*client, error) {
	nc, br, _, err := dialRetrying(ctx, d, url)
	if err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, 512)
	}
	return &client{nc: nc, br: br}, nil
}

// abort closes the TCP connection with a reset (SO_LINGER 0), so no
// TIME_WAIT is left to hold the source port for the next phase.
func (c *client) abort() {
	nc := c.nc
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok { // wss://: the TCP under the TLS
		nc = tc.NetConn()
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.nc.Close()
}

// next reads frames until a data frame arrives and returns its payload,
// valid until the next call. It answers pings and ends on a close frame.
func (c *client) next() (ws.OpCode, []byte, error) {
	for {
		h, err := ws.ReadHeader(c.br)
		if err != nil {
			return 0, nil, err
		}
		if h.Length > maxPayload {
			return 0, nil, fmt.Errorf("loadgen: %d-byte frame from the server", h.Length)
		}
		n := int(h.Length)
		if cap(c.buf) < n {
			c.buf = make([]byte, n)
		}
		p := c.buf[:n]
		if _, err := io.ReadFull(c.br, p); err != nil {
			return 0, nil, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpPing:
			if err := c.write(ws.OpPong, p); err != nil {
				return 0, nil, err
			}
		case ws.OpPong, ws.OpContinuation:
			// Continuations do not occur: the benchmark's messages are one frame.
		case ws.OpClose:
			return 0, nil, io.EOF
		default:
			return h.OpCode, p, nil
		}
	}
}

// write sends one masked frame (RFC 6455 §5.3: clients mask) in one write.
func (c *client) write(op ws.OpCode, p []byte) error {
	return writeFrame(c.nc, maskedFrame(op, p))
}

func writeFrame(w io.Writer, frame []byte) error {
	_, err := w.Write(frame)
	return err
}

// maskedFrame encodes a final client frame with payload p and a fresh mask.
func maskedFrame(op ws.OpCode, p []byte) []byte {
	h := ws.Header{Fin: true, OpCode: op, Length: int64(len(p)), Masked: true, Mask: ws.NewMask()}
	b := make([]byte, ws.HeaderSize(h)+len(p))
	_ = ws.WriteHeader(fixedWriter{b}, h) // cannot fail: b is large enough
	body := b[len(b)-len(p):]
	copy(body, p)
	ws.Cipher(body, h.Mask, 0)
	return b
}

type fixedWriter struct{ b []byte }

func (w fixedWriter) Write(p []byte) (int, error) { return copy(w.b, p), nil }

// dialRetrying dials, and retries an upgrade answered 429 as a client
// should: wsfleet's door answers 429 to an address with more than 32
// handshakes in progress on one worker, which a load generator opening
// thousands of connections from a few source addresses reaches. The waits
// double from 5 ms to 320 ms, 12 tries in all (about 2.5 s), within ctx.
func dialRetrying(ctx context.Context, d ws.Dialer, url string) (net.Conn, *bufio.Reader, ws.Handshake, error) {
	wait := 5 * time.Millisecond
	for try := 1; ; try++ {
		nc, br, hs, err := d.Dial(ctx, url)
		var status ws.StatusError
		if err == nil || !errors.As(err, &status) || int(status) != 429 || try == 12 {
			return nc, br, hs, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, hs, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 320*time.Millisecond)
	}
}
