package worker

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// TestWireStatsSameJSON: the counters the master reads (ctl.Stats) marshal
// exactly as the gateway's own, so `master status -json` is unchanged by
// which type carries them; a field the gateway adds shows up here.
func TestWireStatsSameJSON(t *testing.T) {
	s := gateway.Stats{Connections: 1, Accepted: 2, MessagesIn: 3, MessagesOut: 4, SendFailures: 5,
		Refused: gateway.Refusals{MaxConns: 6, PerIP: 7, Handshakes: 8, Files: 9, BadRequest: 10, Timeouts: 11}}
	want, _ := json.Marshal(s)
	got, _ := json.Marshal(wireStats(s))
	if string(got) != string(want) {
		t.Errorf("ctl.Stats %s\ngateway.Stats %s", got, want)
	}
}

// TestWireConnInfoSameJSON: a ctl.ConnInfo marshals as the gateway's
// ConnInfo with the user after it, as the worker's answer always did.
func TestWireConnInfoSameJSON(t *testing.T) {
	gc := gateway.ConnInfo{ID: "n-1-a", Remote: "10.0.0.1:5", BytesIn: 1, BytesOut: 2, MessagesIn: 3, MessagesOut: 4,
		Created: time.Date(2024, 5, 6, 7, 8, 9, 10, time.UTC)}
	old := struct {
		gateway.ConnInfo
		User string `json:"user,omitempty"`
	}{gc, "alice"}
	want, _ := json.Marshal(old)
	got, _ := json.Marshal(ctl.ConnInfo{ID: gc.ID, Remote: gc.Remote, BytesIn: 1, BytesOut: 2, MessagesIn: 3,
		MessagesOut: 4, Created: gc.Created, User: "alice"})
	if string(got) != string(want) {
		t.Errorf("ctl.ConnInfo %s\nbefore %s", got, want)
	}
}

// TestStopReasons: a stop request's reason picks the close code, 1012 for
// a replaced worker and 1001 otherwise; a reason the worker does not know
// is refused, not taken for a stop.
func TestStopReasons(t *testing.T) {
	if code, _ := closeFor(ctl.StopReplaced); code != gateway.StatusServiceRestart {
		t.Errorf("replaced: %d", code)
	}
	if code, _ := closeFor(ctl.StopShutdown); code != ws.StatusGoingAway {
		t.Errorf("shutdown: %d", code)
	}
	w := &Worker{stopReq: make(chan ctl.StopRequest, 1)}
	ask := func(req any) error {
		args, _ := json.Marshal(req)
		_, err := w.handleControl(context.Background(), ctl.OpStop, args)
		return err
	}
	if err := ask(map[string]any{"code": 1012}); err == nil {
		t.Error("a stop without a reason was taken")
	}
	want := ctl.StopRequest{Reason: ctl.StopReplaced, Graceful: true, Grace: time.Second}
	if err := ask(want); err != nil {
		t.Fatal(err)
	}
	if got := <-w.stopReq; got != want {
		t.Errorf("stop request %+v, want %+v", got, want)
	}
	w.stopReq <- want
	if err := ask(want); err == nil {
		t.Error("a second stop was taken")
	}
}
