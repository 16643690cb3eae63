package main

import (
	"fmt"
	"strings"
)

// millionTarget is the million's row: judged on `make bench-million`'s
// own run (its section), named with its date, since it is not this run.
func (d *doc) millionTarget() {
	m := d.run.million
	if m == nil {
		d.p("| a million connections, every tick to each | `make bench-million` not run | – |")
		return
	}
	r := &m.res
	held := r.Connect.Opened
	all := r.Push != nil && r.Push.AllDelivered && r.Connect.Failed == 0 && r.OK
	got := "not every tick to each"
	if all {
		got = "every tick to each"
	}
	d.p("| a million connections, every tick to each | `make bench-million`, its own run of %s (see its section): %s held, %s | %s |",
		r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), thousands(float64(held)), got, d.met(held >= 1_000_000 && all))
}

// targets16 is issue 16's table: handshakes per server CPU-second against
// the better peer (over ws:// on the idle phases' -count and with one
// worker per core, and, against gorilla, over wss://), echo at one worker
// per core, memory per connection.
// Every row is judged on this run's figures only (the million has its own
// run and section).
func (d *doc) targets16() {
	r := d.run
	d.p("## Issue 16's targets\n")
	d.p("| target (issue 16) | measured in this run | met |\n| --- | --- | --- |")
	for _, size := range d.sizes() {
		d.connectTarget(size, r.get("wsfleet", size), size)
	}
	for _, size := range []string{"connect-small", "connect-large"} {
		if w := r.get("wsfleet", size+"-wide"); w != nil {
			d.connectTarget(fmt.Sprintf("%s, one worker per core (`%s`)", size, w.Config), w, size)
		}
	}
	d.wssTarget()
	for _, c := range []string{"100", "1000"} {
		w, g := r.get("wsfleet", "echo-"+c+"-wide"), r.get("gorilla", "echo-"+c)
		if w == nil || g == nil || w.Echo == nil || g.Echo == nil {
			continue
		}
		rt := w.Echo.PerCPUSecond / g.Echo.PerCPUSecond
		d.p("| echo round trips per server CPU-second ≥ 1.1 × gorilla's at one worker per core, %s clients | wsfleet `%s` %s%s, gorilla %s%s: %.2f× | %s |",
			c, w.Config, thousands(w.Echo.PerCPUSecond), trialNote(w, thousands), thousands(g.Echo.PerCPUSecond),
			trialNote(g, thousands), rt, d.met(rt >= 1.1))
	}
	size := d.sizes()[len(d.sizes())-1]
	if w := r.get("wsfleet", size); w != nil && w.Memory != nil {
		d.p("| ≤ 512 B per idle connection at 50k on `-count 4` (PSS, all processes) | %.0f B per connection at %s; %s | %s |",
			w.Memory.PerConnBytes, kConns(w.Conns), w.Config, d.met(w.Memory.PerConnBytes <= 512 && w.Conns >= 50000))
	}
	d.millionTarget()
	d.p("")
}

// connectTarget is a row of the handshake target: wsfleet's w against the
// better of the peers' results labelled peerLabel, per server CPU-second
// (with the trials' figures when there were several), and no slower in
// connections per second than either.
func (d *doc) connectTarget(what string, w *result, peerLabel string) {
	if w == nil || w.Connect == nil || w.Connect.PerCPUSecond <= 0 {
		return
	}
	best, bestName, wall := 0.0, "", true
	var parts []string
	for _, s := range servers[1:] {
		p := d.run.get(s, peerLabel)
		if p == nil || p.Connect == nil || p.Connect.PerCPUSecond <= 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s per CPU-s%s, %s/s at %s", s, thousands(p.Connect.PerCPUSecond),
			connectNote(p), thousands(p.Connect.PerSecond), kConns(p.Conns)))
		if p.Connect.PerCPUSecond > best {
			best, bestName = p.Connect.PerCPUSecond, s
		}
		wall = wall && w.Connect.PerSecond >= p.Connect.PerSecond
	}
	if best == 0 {
		return
	}
	rt := w.Connect.PerCPUSecond / best
	d.p("| connections per server CPU-second ≥ 1.2 × the better peer's, and connections/s no worse, %s | wsfleet %s per CPU-s%s, %s/s at %s; %s: %.2f× %s | %s |",
		what, thousands(w.Connect.PerCPUSecond), connectNote(w), thousands(w.Connect.PerSecond), kConns(w.Conns),
		strings.Join(parts, "; "), rt, bestName, d.met(rt >= 1.2 && wall))
}
