package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// expectTimeout bounds the wait for one expected message or close.
const expectTimeout = 10 * time.Second

// eventKind says what a wsEvent is.
type eventKind int

const (
	evMessage eventKind = iota // a whole data message (fragments joined)
	evPing                     // a ping frame (answered already when autoPong)
	evPong                     // a pong frame
	evClose                    // a close frame
	evEOF                      // reading ended: the TCP connection closed or broke
	evBad                      // the server broke the protocol (masked frame, ...)
)

func (k eventKind) String() string {
	return [...]string{"message", "ping", "pong", "close", "eof", "protocol violation"}[k]
}

// wsEvent is one thing the client's reader saw, stamped on arrival with the
// test process's monotonic clock.
type wsEvent struct {
	kind   eventKind
	op     ws.OpCode     // evMessage: ws.OpText or ws.OpBinary
	data   []byte        // message or control payload
	code   ws.StatusCode // evClose: 0 when the frame carried no code
	reason string        // evClose
	err    error         // evEOF, evBad: why reading ended
	at     time.Time
}

func (e wsEvent) String() string {
	switch e.kind {
	case evClose:
		return fmt.Sprintf("close frame code %d %q", e.code, e.reason)
	case evEOF, evBad:
		return fmt.Sprintf("%s (%v)", e.kind, e.err)
	default:
		return fmt.Sprintf("%s op %d %q", e.kind, e.op, abbrev(e.data))
	}
}

// wsClient is a WebSocket client on gobwas/ws that exposes every frame the
// server sends. One goroutine reads the connection and queues events; it
// answers pings (autoPong) and echoes a close frame, as a browser would.
// Writes are serialised by wmu.
type wsClient struct {
	t     testing.TB
	conn  net.Conn
	local string // the client's address, which the server calls "remote"

	events     chan wsEvent
	done       chan struct{} // closed by close
	readerDone chan struct{} // closed when the reader goroutine returns
	closeOnce  sync.Once

	wmu       sync.Mutex
	closeSent bool // a close frame went out; guarded by wmu
	autoPong  bool // set before the reader starts, read-only after
}

// dialWS opens a client to ws://addr/ and closes it in t.Cleanup.
func dialWS(t testing.TB, addr string) *wsClient {
	t.Helper()
	c, err := tryDialWS(addr)
	if err != nil {
		t.Fatalf("dial ws://%s/: %v", addr, err)
	}
	c.t = t
	t.Cleanup(c.close)
	return c
}

// dialWSWith opens a client to ws://addr<path> with extra handshake
// headers and closes it in t.Cleanup.
func dialWSWith(t testing.TB, addr, path string, h ws.HandshakeHeader) *wsClient {
	t.Helper()
	c, err := tryDialWSURL(ws.Dialer{Header: h}, "ws://"+addr+path)
	if err != nil {
		t.Fatalf("dial ws://%s%s: %v", addr, path, err)
	}
	c.t = t
	t.Cleanup(c.close)
	return c
}

// tryDialWS opens a client without a test; the caller must close it.
func tryDialWS(addr string) (*wsClient, error) {
	return tryDialWSURL(ws.Dialer{}, "ws://"+addr+"/")
}

// dialTimeout bounds a test's dial and handshake. It is longer than the
// server's handshake timeout (10 s, answered with 408), so that a
// handshake the server lost shows as a 408, and one that is only slow (a
// race-built cluster on a busy two-core CI machine once took over 5 s)
// does not fail the test.
const dialTimeout = 15 * time.Second

func tryDialWSURL(d ws.Dialer, url string) (*wsClient, error) {
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	return tryDialWSContext(ctx, d, url)
}

// tryDialWSContext is tryDialWSURL with the caller's deadline.
func tryDialWSContext(ctx context.Context, d ws.Dialer, url string) (*wsClient, error) {
	conn, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	var r io.Reader = conn
	if br != nil {
		// Frames the server sent right behind the handshake wait in br.
		r = io.MultiReader(io.LimitReader(br, int64(br.Buffered())), conn)
	}
	c := &wsClient{
		conn:       conn,
		local:      conn.LocalAddr().String(),
		events:     make(chan wsEvent, 1024),
		done:       make(chan struct{}),
		readerDone: make(chan struct{}),
		autoPong:   true,
	}
	go c.readLoop(bufio.NewReader(r))
	return c, nil
}

// close ends the client: it closes the socket and waits for the reader.
func (c *wsClient) close() {
	c.closeOnce.Do(func() {
		close(c.done)
		c.conn.Close()
		<-c.readerDone
	})
}

// emit queues ev unless the client is closed.
func (c *wsClient) emit(ev wsEvent) {
	select {
	case c.events <- ev:
	case <-c.done:
	}
}

// readLoop reads frames until the connection ends, joining fragments into
// messages and queueing one event per message or control frame.
func (c *wsClient) readLoop(r io.Reader) {
	defer close(c.readerDone)
	var frag []byte
	var fragOp ws.OpCode
	for {
		f, err := ws.ReadFrame(r)
		now := time.Now()
		if err != nil {
			// Close our end as a browser does once the server has closed
			// TCP (RFC 6455 §7.1.1); a server that half-closes first waits
			// for this.
			c.conn.Close()
			c.emit(wsEvent{kind: evEOF, err: err, at: now})
			return
		}
		h := f.Header
		if h.Masked || h.Rsv != 0 {
			c.emit(wsEvent{kind: evBad, err: fmt.Errorf("server frame %+v: masked or RSV bits set (RFC 6455 §5.1, §5.2)", h), at: now})
			return
		}
		switch {
		case h.OpCode == ws.OpPing:
			if c.autoPong {
				_ = c.writeFrame(ws.NewPongFrame(f.Payload), true)
			}
			c.emit(wsEvent{kind: evPing, data: f.Payload, at: now})
		case h.OpCode == ws.OpPong:
			c.emit(wsEvent{kind: evPong, data: f.Payload, at: now})
		case h.OpCode == ws.OpClose:
			code, reason := ws.ParseCloseFrameData(f.Payload)
			c.echoClose(code)
			c.emit(wsEvent{kind: evClose, code: code, reason: reason, data: f.Payload, at: now})
		case h.OpCode == ws.OpText || h.OpCode == ws.OpBinary:
			if frag != nil {
				c.emit(wsEvent{kind: evBad, err: errors.New("server started a message inside a fragmented one"), at: now})
				return
			}
			if h.Fin {
				c.emit(wsEvent{kind: evMessage, op: h.OpCode, data: f.Payload, at: now})
				continue
			}
			frag, fragOp = append([]byte{}, f.Payload...), h.OpCode
		case h.OpCode == ws.OpContinuation && frag != nil:
			frag = append(frag, f.Payload...)
			if h.Fin {
				c.emit(wsEvent{kind: evMessage, op: fragOp, data: frag, at: now})
				frag = nil
			}
		default:
			c.emit(wsEvent{kind: evBad, err: fmt.Errorf("server sent opcode %#x out of place", h.OpCode), at: now})
			return
		}
	}
}

// echoClose answers the server's close frame with the same code, as RFC
// 6455 §5.5.1 asks, unless the client closed first.
func (c *wsClient) echoClose(code ws.StatusCode) {
	c.wmu.Lock()
	sent := c.closeSent
	c.closeSent = true
	c.wmu.Unlock()
	if sent {
		return
	}
	var body []byte
	if !code.Empty() {
		body = ws.NewCloseFrameBody(code, "")
	}
	_ = c.writeFrame(ws.NewCloseFrame(body), true)
}

// writeFrame writes f in one write, masked (with a fresh key) when mask is
// true. A client must mask (RFC 6455 §5.3); tests of that rule pass false.
func (c *wsClient) writeFrame(f ws.Frame, mask bool) error {
	return c.writeFrames([]ws.Frame{f}, mask)
}

// writeFrames writes fs in one write, each masked as writeFrame does. A
// server that closes the connection on the first frame has the rest
// already, so a test of a bad sequence does not race the server's close
// with its own next write.
func (c *wsClient) writeFrames(fs []ws.Frame, mask bool) error {
	var b []byte
	for _, f := range fs {
		if mask {
			f = ws.MaskFrame(f)
		}
		fb, err := ws.CompileFrame(f)
		if err != nil {
			return err
		}
		b = append(b, fb...)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	for _, f := range fs {
		if f.Header.OpCode == ws.OpClose {
			c.closeSent = true
		}
	}
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

// writeRaw writes bytes as they are (frames already encoded, or parts of
// them), in one write.
func (c *wsClient) writeRaw(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := c.conn.Write(b)
	return err
}

// write sends one whole masked message.
func (c *wsClient) write(op ws.OpCode, p []byte) error {
	return c.writeFrame(ws.NewFrame(op, true, p), true)
}

// send sends a text message or fails the test.
func (c *wsClient) send(text string) {
	c.t.Helper()
	if err := c.write(ws.OpText, []byte(text)); err != nil {
		c.t.Fatalf("client %s: send %q: %v", c.local, abbrev([]byte(text)), err)
	}
}

// sendBinary sends a binary message or fails the test.
func (c *wsClient) sendBinary(p []byte) {
	c.t.Helper()
	if err := c.write(ws.OpBinary, p); err != nil {
		c.t.Fatalf("client %s: send binary: %v", c.local, err)
	}
}

// nextEvent returns the next event, or an error after timeout.
func (c *wsClient) nextEvent(timeout time.Duration) (wsEvent, error) {
	if timeout <= 0 {
		// The loops below pass what is left of a deadline: once it has
		// passed they must end even if events keep coming.
		return wsEvent{}, fmt.Errorf("client %s: deadline passed", c.local)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case ev := <-c.events:
		return ev, nil
	case <-timer.C:
		return wsEvent{}, fmt.Errorf("client %s: nothing from the server within %s", c.local, timeout)
	}
}

// readMessage returns the next data message, skipping pings and pongs; a
// close, the end of the connection or a timeout is an error.
func (c *wsClient) readMessage(timeout time.Duration) (wsEvent, error) {
	deadline := time.Now().Add(timeout)
	for {
		ev, err := c.nextEvent(time.Until(deadline))
		if err != nil {
			return ev, err
		}
		switch ev.kind {
		case evMessage:
			return ev, nil
		case evPing, evPong:
			continue
		default:
			return ev, fmt.Errorf("client %s: waiting for a message, got %s", c.local, ev)
		}
	}
}

// nextMessage is readMessage that fails the test.
func (c *wsClient) nextMessage(timeout time.Duration) wsEvent {
	c.t.Helper()
	ev, err := c.readMessage(timeout)
	if err != nil {
		c.t.Fatal(err)
	}
	return ev
}

// expect fails unless the next message is the text want.
func (c *wsClient) expect(want string) {
	c.t.Helper()
	if err := c.expectErr(ws.OpText, []byte(want)); err != nil {
		c.t.Fatal(err)
	}
}

// expectBinary fails unless the next message is the binary want.
func (c *wsClient) expectBinary(want []byte) {
	c.t.Helper()
	if err := c.expectErr(ws.OpBinary, want); err != nil {
		c.t.Fatal(err)
	}
}

// expectErr checks that the next message has opcode op and payload want.
func (c *wsClient) expectErr(op ws.OpCode, want []byte) error {
	ev, err := c.readMessage(expectTimeout)
	if err != nil {
		return err
	}
	if ev.op != op || !bytes.Equal(ev.data, want) {
		return fmt.Errorf("client %s: got op %d %q, want op %d %q", c.local, ev.op, abbrev(ev.data), op, abbrev(want))
	}
	return nil
}

// roundTrip sends text and checks that the echo app answers "hello text".
func (c *wsClient) roundTrip(text string) error {
	if err := c.write(ws.OpText, []byte(text)); err != nil {
		return fmt.Errorf("client %s: send: %w", c.local, err)
	}
	return c.expectErr(ws.OpText, []byte("hello "+text))
}

// waitClose waits for the server's close frame, skipping data and control
// frames before it. A connection that ends without one (a bare TCP close)
// is an error that says so.
func (c *wsClient) waitClose(timeout time.Duration) (wsEvent, error) {
	deadline := time.Now().Add(timeout)
	for {
		ev, err := c.nextEvent(time.Until(deadline))
		if err != nil {
			return ev, err
		}
		switch ev.kind {
		case evClose:
			return ev, nil
		case evEOF:
			return ev, fmt.Errorf("client %s: connection ended without a close frame: %v", c.local, ev.err)
		case evBad:
			return ev, fmt.Errorf("client %s: %v", c.local, ev.err)
		}
	}
}

// expectClose fails unless the server sends a close frame with one of codes
// within timeout, and returns it.
func (c *wsClient) expectClose(timeout time.Duration, codes ...ws.StatusCode) wsEvent {
	c.t.Helper()
	ev, err := c.waitClose(timeout)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, code := range codes {
		if ev.code == code {
			return ev
		}
	}
	c.t.Fatalf("client %s: close code %d (%q), want one of %v", c.local, ev.code, ev.reason, codes)
	return ev
}

// waitEOF waits until the connection ends, skipping whatever comes before.
func (c *wsClient) waitEOF(timeout time.Duration) (wsEvent, error) {
	deadline := time.Now().Add(timeout)
	for {
		ev, err := c.nextEvent(time.Until(deadline))
		if err != nil {
			return ev, err
		}
		if ev.kind == evEOF {
			return ev, nil
		}
	}
}

// expectEOF fails unless the connection ends within timeout.
func (c *wsClient) expectEOF(timeout time.Duration) {
	c.t.Helper()
	if _, err := c.waitEOF(timeout); err != nil {
		c.t.Fatal(err)
	}
}

// leave closes the connection the polite way: a close frame with 1000, the
// server's answer, then the end of the connection.
func (c *wsClient) leave() {
	c.t.Helper()
	if err := c.writeFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")), true); err != nil {
		c.t.Fatalf("client %s: send close: %v", c.local, err)
	}
	c.expectClose(expectTimeout, ws.StatusNormalClosure)
	c.expectEOF(expectTimeout)
	c.close()
}

// abbrev shortens a payload for messages.
func abbrev(p []byte) string {
	if len(p) > 64 {
		return fmt.Sprintf("%s... (%d bytes)", p[:64], len(p))
	}
	return string(p)
}
