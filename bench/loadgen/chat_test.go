package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// TestChatMemberChecks: a member counts and times the measured messages,
// and reports a repeated or out-of-order one and a foreign text; the tally
// fails a run whose positions do not match -chat-history, or whose
// deliveries fall short.
func TestChatMemberChecks(t *testing.T) {
	srv, cli := net.Pipe()
	m := &member{name: "m0", c: &client{nc: cli, br: bufio.NewReader(cli)}, hist: newHist(), last: make([]int64, 2)}
	done := make(chan struct{})
	go func() { defer close(done); m.read(2) }()
	now := time.Now()
	said := func(text, extra string) {
		t.Helper()
		msg := fmt.Sprintf(`{"type":"said","room":"bench","from":"m1","text":%q%s}`, text, extra)
		if err := wsutil.WriteServerMessage(srv, ws.OpText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	said(chatText('w', 0, 1, now), `,"offset":1,"epoch":"e"`) // warm-up: checked, not counted
	said(chatText('m', 0, 2, now), `,"offset":2,"epoch":"e"`)
	said(chatText('m', 1, 1, now), "")
	said(chatText('m', 1, 1, now), "") // again
	said("hello", "")
	if err := wsutil.WriteServerMessage(srv, ws.OpText, []byte(`{"type":"joined","room":"bench","name":"m9"}`)); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	<-done
	if got := m.delivered.Load(); got != 3 {
		t.Errorf("delivered %d, want 3 (the repeat counts, and fails the run)", got)
	}
	if m.positions != 2 || m.bare != 2 || m.hist.Count != 3 {
		t.Errorf("positions %d, bare %d, timed %d", m.positions, m.bare, m.hist.Count)
	}
	if len(m.faults) != 2 || !strings.Contains(m.faults[0], "repeated or out of order") || !strings.Contains(m.faults[1], "not the benchmark's") {
		t.Errorf("faults %q", m.faults)
	}

	clean := func() *member {
		c := &member{name: "m1", hist: newHist()}
		c.positions = 10
		return c
	}
	for _, tc := range []struct {
		expect    string
		delivered uint64
		want      string
	}{
		{"on", 10, ""},
		{"", 10, ""},
		{"off", 10, "came with a position"},
		{"on", 9, "9 of 10 deliveries"},
	} {
		r := &runner{o: options{chatHistory: tc.expect, roundTimeout: time.Second}}
		res := &record.Chat{Said: 10, Expected: 10, Delivered: tc.delivered}
		err := r.chatTally(res, []*member{clean()})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("-chat-history %q, %d delivered: %v, want %q", tc.expect, tc.delivered, err, tc.want)
		}
		if !res.History {
			t.Error("History false with positions seen")
		}
	}
	r := &runner{o: options{chatHistory: "on", roundTimeout: time.Second}}
	if err := r.chatTally(&record.Chat{Said: 3, Expected: 3, Delivered: 3}, []*member{m}); err == nil || !strings.Contains(err.Error(), "repeated") {
		t.Errorf("the member's faults do not fail the run: %v", err)
	}
}
