package adminui

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

func TestCollectorRatesGoneAndRing(t *testing.T) {
	clk := newClock()
	var hosts []Host
	c := newCollector(func(context.Context) ([]Host, error) { return hosts, nil }, nil, clk.now)
	snap := func() Snapshot {
		b, _, _ := c.latest()
		var s Snapshot
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	hosts = []Host{
		{Node: "a", PID: 9, Connections: 3, WorkerRows: []Worker{{PID: 1, MessagesIn: 100, MessagesOut: 10}},
			Closed: map[string]uint64{"1000": 4}, HandshakeFailures: map[string]uint64{"bad_request": 1}},
		{Node: "b", Connections: 4, WorkerRows: []Worker{{PID: 2}}},
	}
	c.round(context.Background())
	clk.add(2 * time.Second)
	hosts = []Host{{Node: "a", PID: 9, Connections: 5, WorkerRows: []Worker{{PID: 1, MessagesIn: 140, MessagesOut: 30}},
		Closed: map[string]uint64{"1000": 10, "4xxx": 2}, HandshakeFailures: map[string]uint64{"bad_request": 5, "timeout": 1}}}
	c.round(context.Background())
	s := snap()
	if len(s.Hosts) != 2 || s.Hosts[0].Node != "a" || s.Hosts[1].Node != "b" || !s.Hosts[1].Gone || s.Hosts[0].Gone {
		t.Fatalf("hosts %+v: want a up, b gone", s.Hosts)
	}
	if w := s.Hosts[0].WorkerRows[0]; w.InPerSec != 20 || w.OutPerSec != 10 {
		t.Fatalf("rates in %v out %v, want 20 and 10 a second", w.InPerSec, w.OutPerSec)
	}
	if len(s.Series) != 2 || s.Series[0].Connections != 7 || s.Series[1].Connections != 5 || s.Series[1].InPerSec != 20 {
		t.Fatalf("series %+v", s.Series)
	}
	if p := s.Series[1]; p.FailPerSec != 2.5 || p.ClosedPerSec["1000"] != 3 || p.ClosedPerSec["4xxx"] != 1 || len(p.ClosedPerSec) != 2 {
		t.Fatalf("failures %v/s, closes %v/s: want 2.5, 1000: 3 and 4xxx: 1", p.FailPerSec, p.ClosedPerSec)
	}
	clk.add(goneFor + time.Second)
	c.round(context.Background())
	if s := snap(); len(s.Hosts) != 1 {
		t.Fatalf("a host gone for longer than %v is still shown: %+v", goneFor, s.Hosts)
	}
	for range seriesLen + 50 {
		c.round(context.Background())
	}
	if s := snap(); len(s.Series) != seriesLen {
		t.Fatalf("series of %d points, want %d", len(s.Series), seriesLen)
	}
}
