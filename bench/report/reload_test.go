package main

import (
	"strings"
	"testing"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// TestReloadSection: the reload row carries the command's seconds, the
// time per 10k connections, the closed, missed and doubled counts and the
// longest waits; a fault (here a doubled tick) turns the verdict to no,
// and a run without the phase has no section.
func TestReloadSection(t *testing.T) {
	push := func(doubled int) *record.Push {
		return &record.Push{IntervalSeconds: 1, AllDelivered: true, Doubled: doubled,
			Ticks: []record.Tick{{Delivered: 50000, Conns: 50000}, {Delivered: 50000, Conns: 50000}},
			Reload: &record.Reload{AfterTick: 2, Seconds: 2.5, HandedOff: 50000, HandoffSlots: 4, HandoffMaxMS: 900,
				MaxGapMS: 2345, P99GapMS: 1800}}
	}
	render := func(p *record.Push) string {
		r := &result{Result: record.Result{Server: "wsfleet", Label: "reload", Conns: 50000, OK: true, Push: p,
			Config: "master start -count 4 -app push -push-interval 1s -ping-interval 0 -idle-timeout 0"}}
		d := &doc{run: &run{results: map[string]*result{"wsfleet reload": r}}}
		d.reload()
		return d.b.String()
	}
	md := render(push(0))
	for _, want := range []string{
		"## Reload with hand-off",
		"| 50,000 | 4 | 2.50 | 500 ms | 50,000 | 0 | 0 | 0 | 2345 | 1800 | 1000 |",
		"4 workers handed off, the longest in 900 ms; 0 connections kept",
		"exactly once: **yes**",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("section lacks %q:\n%s", want, md)
		}
	}
	if md := render(push(3)); !strings.Contains(md, "| 0 | 0 | 3 |") || !strings.Contains(md, "exactly once: **no**") {
		t.Errorf("3 doubled ticks: want them in the row and the verdict no:\n%s", md)
	}
	if strings.Contains(md, "longer than the interval") {
		t.Errorf("ticks without delays: want no backlog note:\n%s", md)
	}
	late := push(0)
	late.Ticks[1].MaxMS = 3400
	if md := render(late); !strings.Contains(md, "A tick took 3400 ms to reach its last connection, longer than the interval") {
		t.Errorf("a tick later than the interval: want the backlog note:\n%s", md)
	}
	d := &doc{run: &run{results: map[string]*result{}}}
	if d.reload(); d.b.Len() != 0 {
		t.Errorf("no reload phase: want no section, got %q", d.b.String())
	}
}
