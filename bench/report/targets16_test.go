package main

import (
	"strings"
	"testing"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// TestTargets16: issue 16's rows judge handshakes against the better peer
// (per CPU-second and per second), echo at one worker per core against
// gorilla, and memory against 512 B, each from this run's figures.
func TestTargets16(t *testing.T) {
	res := func(server, label string, conns int, f func(*record.Result)) *result {
		r := &result{Result: record.Result{Server: server, Label: label, Conns: conns, OK: true}}
		f(&r.Result)
		return r
	}
	connect := func(perCPU, perSec float64) func(*record.Result) {
		return func(r *record.Result) { r.Connect = &record.Connect{PerCPUSecond: perCPU, PerSecond: perSec} }
	}
	echo := func(perCPU float64) func(*record.Result) {
		return func(r *record.Result) { r.Echo = &record.Echo{PerCPUSecond: perCPU} }
	}
	run := &run{results: map[string]*result{}}
	for _, r := range []*result{
		res("wsfleet", "idle-small", 10000, connect(13000, 5000)), // 1.3x nbio per CPU-s, but slower wall than gorilla
		res("gorilla", "idle-small", 10000, connect(9000, 6000)),
		res("nbio", "idle-small", 10000, connect(10000, 4000)),
		res("wsfleet", "idle-large", 50000, func(r *record.Result) {
			r.Connect = &record.Connect{PerCPUSecond: 30000, PerSecond: 9000}
			r.Memory = &record.Memory{PerConnBytes: 500}
		}),
		res("gorilla", "idle-large", 19000, connect(11000, 8000)),
		res("nbio", "idle-large", 19000, connect(12000, 8500)),
		res("wsfleet", "connect-small-wide", 10000, connect(15000, 11000)), // 1.25x nbio, faster wall
		res("gorilla", "connect-small", 10000, connect(6000, 6000)),
		res("nbio", "connect-small", 10000, connect(12000, 10000)),
		res("wsfleet", "connect-large-wide", 19000, connect(13000, 11000)), // 1.08x nbio
		res("gorilla", "connect-large", 19000, connect(6000, 6000)),
		res("nbio", "connect-large", 19000, connect(12000, 10000)),
		res("wsfleet", "echo-100-wide", 100, echo(110000)),
		res("gorilla", "echo-100", 100, echo(100000)),
		res("wsfleet", "echo-1000-wide", 1000, echo(105000)),
		res("gorilla", "echo-1000", 1000, echo(100000)),
	} {
		run.results[r.Server+" "+r.Label] = r
	}
	// An idle phase's trials are its broadcast's p99s, not storms.
	nbio := run.get("nbio", "idle-large")
	nbio.Broadcast, nbio.trials = &record.Broadcast{}, []float64{186, 197, 208}
	d := &doc{run: run}
	d.targets16()
	md := d.b.String()
	rows := map[string]string{}
	for _, line := range strings.Split(md, "\n") {
		for _, key := range []string{"idle-small", "idle-large", "connect-small", "connect-large", "100 clients", "1000 clients", "512 B", "wss://"} {
			if strings.Contains(line, key) {
				rows[key] = line
			}
		}
	}
	for key, want := range map[string]string{
		"idle-small":    "**no**",  // per CPU-s met, wall slower than gorilla
		"idle-large":    "**yes**", // 2.50x nbio, faster wall
		"connect-small": "**yes**", // one worker per core: 1.25x nbio, faster wall
		"connect-large": "**no**",  // 1.08x nbio
		"100 clients":   "**yes**", // 1.10x
		"1000 clients":  "**no**",  // 1.05x
		"512 B":         "**yes**",
		"wss://":        "**no**",
	} {
		if !strings.HasSuffix(rows[key], want+" |") {
			t.Errorf("row %s = %q, want it to end %s", key, rows[key], want)
		}
	}
	if !strings.Contains(rows["connect-small"], "1.25× nbio") || !strings.Contains(rows["connect-small"], "one worker per core") {
		t.Errorf("connect-small row %q: want one worker per core's ratio to the better peer, 1.25× nbio", rows["connect-small"])
	}
	if strings.Contains(rows["idle-large"], "median of") {
		t.Errorf("idle-large row %q lists the broadcast's trials as the storm's", rows["idle-large"])
	}
	if !strings.Contains(rows["idle-large"], "2.50× nbio") {
		t.Errorf("idle-large row %q: want the ratio to the better peer, 2.50× nbio", rows["idle-large"])
	}
}

// TestMillionTarget: the million's row is judged on its own run, named by
// its date: met only with a million held, none failed, and every tick to
// each.
func TestMillionTarget(t *testing.T) {
	row := func(m *millionRun) string {
		d := &doc{run: &run{results: map[string]*result{}, million: m}}
		d.millionTarget()
		return strings.TrimSpace(d.b.String())
	}
	if got := row(nil); !strings.HasSuffix(got, "not run | – |") {
		t.Errorf("no million run: %q", got)
	}
	m := &millionRun{}
	m.res.OK = true
	m.res.Connect = &record.Connect{Opened: 1_000_000}
	m.res.Push = &record.Push{AllDelivered: true}
	if got := row(m); !strings.HasSuffix(got, "**yes** |") || !strings.Contains(got, "1,000,000 held, every tick to each") {
		t.Errorf("a million, every tick: %q", got)
	}
	m.res.Push.AllDelivered, m.res.OK = false, false
	if got := row(m); !strings.HasSuffix(got, "**no** |") {
		t.Errorf("ticks missed: %q", got)
	}
	m.res.Push.AllDelivered, m.res.OK = true, true
	m.res.Connect.Opened, m.res.Connect.Failed = 999_901, 99
	if got := row(m); !strings.HasSuffix(got, "**no** |") {
		t.Errorf("99 failed to open: %q", got)
	}
}
