//go:build linux

package gateway

import (
	"context"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"golang.org/x/sys/unix"
)

// tagger answers every message with its tag and the message.
type tagger struct {
	echo
	tag string
}

func (h *tagger) OnMessage(c *Conn, m Message) {
	c.Send(ws.OpText, append([]byte(h.tag), m.Data...))
}

// unixPair is a connected pair of Unix stream sockets.
func unixPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conv := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "handoff")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conv(fds[0]), conv(fds[1])
}

func roundTrip(t *testing.T, c net.Conn, msg, want string) {
	t.Helper()
	if err := wsutil.WriteClientMessage(c, ws.OpText, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	data, _, err := wsutil.ReadServerData(c)
	if err != nil || string(data) != want {
		t.Fatalf("got %q %v, want %q", data, err, want)
	}
}

// TestHandoffMovesLiveConnection: a client's connection moves from one
// server to another over a Unix socket, with its id, its queued output and
// half a frame it had sent; it notices nothing, the old server runs no
// OnClose, and the new one answers.
func TestHandoffMovesLiveConnection(t *testing.T) {
	oldH := &opener{conns: make(chan *Conn, 1)}
	a, url := startServer(t, Options{}, oldH)
	newH := &tagger{tag: "new:"}
	b, _ := startServer(t, Options{}, newH)
	c := dial(t, url)
	gc := <-oldH.conns
	roundTrip(t, c, "one", "one")

	// Half a frame before the hand-off, the rest after.
	frame := masked(ws.NewTextFrame([]byte("two")))
	if _, err := c.Write(frame[:3]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var fd int
	var err error
	waitFor(t, func() bool {
		fd, err = a.Detach(ctx, gc)
		return err != ErrHandoffBusy
	})
	if err != nil {
		t.Fatal(err)
	}
	// Sent after the detach: queued, and carried in the snapshot.
	if err := gc.Send(ws.OpText, []byte("queued")); err != nil {
		t.Fatal(err)
	}
	st, err := a.Snapshot(gc)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := st.MarshalBinary()
	sa, sb := unixPair(t)
	if err := SendHandoffBatch(sa, []HandoffItem{{State: enc, FD: fd}}); err != nil {
		t.Fatal(err)
	}
	items, err := RecvHandoffBatch(sb)
	if err != nil || len(items) != 1 {
		t.Fatalf("received %d, %v", len(items), err)
	}
	var got HandoffState
	if err := got.UnmarshalBinary(items[0].State); err != nil {
		t.Fatal(err)
	}
	nc, err := b.Import(got, items[0].FD, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Release(gc)
	b.Start(nc)
	if nc.ID() != gc.ID() || a.Len() != 0 || b.Len() != 1 {
		t.Fatalf("ids %s/%s, old has %d, new %d", nc.ID(), gc.ID(), a.Len(), b.Len())
	}
	data, _, err := wsutil.ReadServerData(c)
	if err != nil || string(data) != "queued" {
		t.Fatalf("queued output: %q %v", data, err)
	}
	if _, err := c.Write(frame[3:]); err != nil {
		t.Fatal(err)
	}
	data, _, err = wsutil.ReadServerData(c)
	if err != nil || string(data) != "new:two" {
		t.Fatalf("after the hand-off: %q %v", data, err)
	}
	roundTrip(t, c, "three", "new:three")
	oldH.mu.Lock()
	defer oldH.mu.Unlock()
	if len(oldH.closed) != 0 {
		t.Fatalf("old server ran OnClose: %v", oldH.closed)
	}
}

// TestHandoffReattach: a hand-off that fails puts the connection back.
func TestHandoffReattach(t *testing.T) {
	h := &opener{conns: make(chan *Conn, 1)}
	a, url := startServer(t, Options{}, h)
	c := dial(t, url)
	gc := <-h.conns
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// OnOpen ran on the poller (the inline upgrade): until it is back
	// there, the connection is busy.
	var err error
	waitFor(t, func() bool {
		_, err = a.Detach(ctx, gc)
		return err != ErrHandoffBusy
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := gc.Send(ws.OpText, []byte("meanwhile")); err != nil {
		t.Fatal(err)
	}
	a.Reattach(gc)
	data, _, err := wsutil.ReadServerData(c)
	if err != nil || string(data) != "meanwhile" {
		t.Fatalf("queued while detached: %q %v", data, err)
	}
	roundTrip(t, c, "back", "back")
}

// TestHandoffStateRoundTrip and the fuzz target below hold the encoding.
func TestHandoffStateRoundTrip(t *testing.T) {
	st := HandoffState{ID: "n-1-2", Remote: "10.0.0.1:5000", Protocol: "chat", URI: "/ws?x=1",
		Header: map[string]string{"X-A": "b"}, Deflate: 15, Created: 42, Pending: []byte{0x81},
		Outbox: []byte("out"), BytesIn: 1, BytesOut: 2, MsgsIn: 3, MsgsOut: 4, App: []byte("app")}
	b, _ := st.MarshalBinary()
	var got HandoffState
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	b2, _ := got.MarshalBinary()
	if string(b) != string(b2) || got.Header["X-A"] != "b" {
		t.Fatalf("round trip differs: %+v", got)
	}
	for _, bad := range []HandoffState{
		{ID: "", Remote: "1.2.3.4:5"},
		{ID: "x", Remote: "nowhere"},
		{ID: "x", Remote: "1.2.3.4:5", Deflate: 3},
		{ID: "x", Remote: "1.2.3.4:5", Pending: make([]byte, maxHandoffPending+1)},
	} {
		b, _ := bad.MarshalBinary()
		if err := got.UnmarshalBinary(b); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
	if err := got.UnmarshalBinary(append(b, 0)); err == nil {
		t.Error("accepted trailing bytes")
	}
	b[0] = 2
	if err := got.UnmarshalBinary(b); err == nil {
		t.Error("accepted version 2")
	}
}

func FuzzHandoffState(f *testing.F) {
	st := HandoffState{ID: "n-1-2", Remote: "10.0.0.1:5000", URI: "/", Header: map[string]string{"A": "b"},
		Deflate: 9, Outbox: []byte("o"), App: []byte("a")}
	b, _ := st.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var st HandoffState
		if err := st.UnmarshalBinary(b); err != nil {
			return
		}
		// What decodes is within its bounds and encodes back to itself.
		if len(st.Outbox) > MaxHandoffOutbox || len(st.App) > MaxHandoffApp || len(st.Pending) > maxHandoffPending {
			t.Fatal("bounds not held")
		}
		again, _ := st.MarshalBinary()
		var st2 HandoffState
		if err := st2.UnmarshalBinary(again); err != nil {
			t.Fatalf("re-encoding does not decode: %v", err)
		}
	})
}

// TestHandoffBatchChecks: a batch whose head does not match the
// descriptors that came with it, or announces more than the bounds, is
// refused before anything is read into memory.
func TestHandoffBatchChecks(t *testing.T) {
	head := func(count, size uint32) []byte {
		b := append([]byte{}, batchMagic[:]...)
		b = append(b, byte(count>>24), byte(count>>16), byte(count>>8), byte(count))
		return append(b, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
	}
	for name, h := range map[string][]byte{
		"descriptors missing": head(1, 8),
		"too many":            head(HandoffBatch+1, 0),
		"too large":           head(0, maxBatchPayload+1),
		"not a batch":         []byte("GET / HTTP/1.1\r\n"),
	} {
		sa, sb := unixPair(t)
		if _, err := sa.Write(h); err != nil {
			t.Fatal(err)
		}
		if _, err := RecvHandoffBatch(sb); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
