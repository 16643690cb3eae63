package gateway

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

func TestCloseCodeBuckets(t *testing.T) {
	for _, c := range []struct {
		code ws.StatusCode
		want string
	}{
		{1000, "1000"}, {1006, "1006"}, {1015, "1015"}, {4000, "4xxx"}, {4999, "4xxx"},
		{999, "other"}, {1016, "other"}, {3000, "other"}, {5000, "other"},
	} {
		if got := CloseCodeLabel(closeIndex(c.code)); got != c.want {
			t.Errorf("code %d: bucket %q, want %q", c.code, got, c.want)
		}
	}
	for r := range numFailReasons {
		if FailReasonLabel(r) == "" {
			t.Errorf("reason %d has no label", r)
		}
	}
	if FailReasonLabel(numFailReasons) != "" || FailReasonLabel(-1) != "" {
		t.Error("a reason out of range has a label")
	}
}

// TestMetricsCount: bytes in and out are exact over a connection's life,
// its close code is counted once it ended, and refused handshakes are
// counted by reason.
func TestMetricsCount(t *testing.T) {
	s, u := startServer(t, Options{AllowOrigins: []string{"http://good.example"}, RequireSubprotocol: true,
		Subprotocols: []string{"p"}, PingInterval: -1}, &echo{})
	c, _, _, err := ws.Dialer{Protocols: []string{"p"}}.Dial(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := wsutil.WriteClientMessage(c, ws.OpText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := wsutil.ReadServerData(c); err != nil {
		t.Fatal(err)
	}
	// The server counts a write once the syscall returned, which may be
	// after the client read it: wait for the count, bounded.
	for deadline := time.Now().Add(5 * time.Second); ; {
		m := s.Metrics()
		if m.BytesIn == 6+5 && m.BytesOut == 2+5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live: bytes in %d out %d, want 11 and 7", m.BytesIn, m.BytesOut)
		}
		time.Sleep(time.Millisecond)
	}
	if err := ws.WriteFrame(c, ws.MaskFrame(ws.NewCloseFrame(ws.NewCloseFrameBody(4001, "")))); err != nil {
		t.Fatal(err)
	}
	if code := readClose(t, c); code != 4001 {
		t.Fatalf("echoed %d", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.WaitEmpty(ctx); err != nil {
		t.Fatal(err)
	}
	m := s.Metrics()
	if m.BytesIn != 11+8 || m.BytesOut != 7+4 || m.Closed[closeIndex(4001)] != 1 {
		t.Fatalf("ended: bytes in %d out %d, 4xxx closes %d; want 19, 11, 1", m.BytesIn, m.BytesOut, m.Closed[closeIndex(4001)])
	}

	addr := (&url.URL{Host: u[len("ws://") : len(u)-1]}).Host
	rawRequest(t, addr, upgradeRequest("Origin: http://evil.example\r\nSec-WebSocket-Protocol: p\r\n"))
	rawRequest(t, addr, upgradeRequest(""))
	resp, _ := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("no key: %s", resp.Status)
	}
	// A refusal is counted after its answer is written, which the client
	// may read first: wait for the counts, bounded.
	wantFailed := map[FailReason]uint64{FailOrigin: 1, FailSubprotocol: 1, FailBadRequest: 1, FailAuth: 0}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		m = s.Metrics()
		if m.Failed[FailOrigin]+m.Failed[FailSubprotocol]+m.Failed[FailBadRequest] >= 3 {
			break
		}
	}
	for r, want := range wantFailed {
		if m.Failed[r] != want {
			t.Errorf("%s failures %d, want %d", FailReasonLabel(r), m.Failed[r], want)
		}
	}
}
