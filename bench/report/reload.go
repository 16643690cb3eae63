package main

import (
	"strings"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// reload is issue 15's section: `master reload` with hand-off while every
// connection gets the push app's ticks.
func (d *doc) reload() {
	r := d.run.get("wsfleet", "reload")
	if r == nil || r.Push == nil || r.Push.Reload == nil {
		return
	}
	p, rl := r.Push, r.Push.Reload
	workers := "–"
	if i := strings.Index(r.Config, "-count "); i >= 0 {
		workers = strings.Fields(r.Config[i+len("-count "):])[0]
	}
	d.p("## Reload with hand-off\n")
	d.p("`%s`, %s connections open and receiving the push app's tick every %gs; after the %s tick of the window "+
		"the benchmark runs `master reload`, which hands every live ws:// connection to the new workers, and watches "+
		"the ticks that follow its exit. The reload's time is the command's, from start to exit. A connection's longest "+
		"wait is the longest gap between two consecutive messages it received over the window: about the tick interval "+
		"when nothing is lost, and the excess over it is what the reload cost that connection.\n",
		r.Config, thousands(float64(r.Conns)), p.IntervalSeconds, ordinal(rl.AfterTick))
	per10k := "–"
	if r.Conns > 0 {
		per10k = ms(rl.Seconds*1000/(float64(r.Conns)/10000)) + " ms"
	}
	d.p("| connections | workers | reload (s) | per 10k connections | handed off | connections closed | ticks missed | ticks doubled | longest wait (ms) | p99 of longest waits (ms) | tick interval (ms) |")
	d.p("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	d.p("| %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |",
		thousands(float64(r.Conns)), workers, rl.Seconds, per10k, handedOff(rl.HandedOff, rl.HandoffSlots),
		thousands(float64(rl.Closed)), thousands(float64(missedTicks(p))), thousands(float64(p.Doubled)),
		ms(rl.MaxGapMS), ms(rl.P99GapMS), ms(p.IntervalSeconds*1000))
	d.p("")
	if rl.HandoffSlots > 0 {
		d.p("The master's log: %d workers handed off, the longest in %s ms; %s connections kept (drained with 1012).\n",
			rl.HandoffSlots, ms(rl.HandoffMaxMS), thousands(float64(rl.Kept)))
	}
	worst := 0.0
	for _, t := range p.Ticks {
		worst = max(worst, t.MaxMS)
	}
	if worst > p.IntervalSeconds*1000 {
		d.p("A tick took %s ms to reach its last connection, longer than the interval: the tally, which matches a "+
			"connection's receipts to the ticks in order from the window's first, may count a late receipt of an older "+
			"tick as doubled (and the longest waits include the backlog).\n", ms(worst))
	}
	ok := rl.ExitCode == 0 && rl.Closed == 0 && p.AllDelivered && p.Doubled == 0 && rl.Kept == 0
	d.p("No connection closed, every tick to every connection exactly once: %s.\n", yes(ok))
}

// missedTicks is the deliveries the ticks lacked, over all connections.
func missedTicks(p *record.Push) int {
	n := 0
	for _, t := range p.Ticks {
		n += t.Conns - t.Delivered
	}
	return n
}

func handedOff(n, slots int) string {
	if slots == 0 {
		return "–"
	}
	return thousands(float64(n))
}

func ordinal(n int) string {
	switch n {
	case 1:
		return "first"
	case 2:
		return "second"
	case 3:
		return "third"
	}
	return thousands(float64(n)) + "th"
}
