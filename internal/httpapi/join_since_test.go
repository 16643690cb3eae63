package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// requestBus is a fakeBus whose commands sent as requests get answer.
type requestBus struct {
	fakeBus
	answer string
	got    []bus.Command
}

func (r *requestBus) RequestCommand(ctx context.Context, conn string, cmd bus.Command) ([]byte, error) {
	r.got = append(r.got, cmd)
	if r.answer == "" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return []byte(r.answer), nil
}

// TestJoinSince: /api/join with since sends the join as a request with
// Wsfleet-Since "<offset>:<epoch>" and answers the worker's outcome; a
// worker's error is 422, a bad since 400, and a bus that cannot wait 501.
func TestJoinSince(t *testing.T) {
	rb := &requestBus{answer: `{"recovered":true,"offset":12,"epoch":"e1"}`}
	h, err := New(Options{Key: "k", Bus: rb, Presence: fakePresence{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	w := call(h, "POST", "/api/join", "k", `{"conn":"h-1-1","room":"r","since":{"offset":7,"epoch":"e1"}}`)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"recovered":true`) || !strings.Contains(w.Body.String(), `"offset":12`) {
		t.Fatalf("join since: %d %s", w.Code, w.Body)
	}
	if len(rb.got) != 1 || rb.got[0].Join != "r" || rb.got[0].Since != "7:e1" {
		t.Fatalf("sent %+v", rb.got)
	}
	rb.answer = `{"recovered":false,"offset":30,"epoch":"e2"}`
	w = call(h, "POST", "/api/join", "k", `{"conn":"h-1-1","room":"r","since":{"offset":7,"epoch":"e1"}}`)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"recovered":false`) {
		t.Fatalf("join since, lost: %d %s", w.Code, w.Body)
	}
	rb.answer = `{"error":"hub: too many rooms"}`
	if w = call(h, "POST", "/api/join", "k", `{"conn":"h-1-1","room":"r","since":{"offset":7,"epoch":"e1"}}`); w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("worker's error: %d %s", w.Code, w.Body)
	}
	if w = call(h, "POST", "/api/join", "k", `{"conn":"h-1-1","room":"r","since":{"offset":7}}`); w.Code != http.StatusBadRequest {
		t.Fatalf("no epoch: %d %s", w.Code, w.Body)
	}
	// Without since: sent at once, no request.
	if w = call(h, "POST", "/api/join", "k", `{"conn":"h-1-1","room":"r"}`); w.Code != http.StatusOK || len(rb.got) != 3 {
		t.Fatalf("plain join: %d %s, requests %d", w.Code, w.Body, len(rb.got))
	}
	h2, _, _ := newTest(t, Options{})
	if w = call(h2, "POST", "/api/join", "k", `{"conn":"h-1-1","room":"r","since":{"offset":7,"epoch":"e1"}}`); w.Code != http.StatusNotImplemented {
		t.Fatalf("no requester: %d %s", w.Code, w.Body)
	}
}
