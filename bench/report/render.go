package main

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// doc renders the report, section by section.
type doc struct {
	run      *run
	plotDir  string // where the SVGs are written
	plotLink string // the same folder, relative to the Markdown
	seconds  int
	quick    bool
	b        strings.Builder
}

func (d *doc) p(format string, a ...any) { fmt.Fprintf(&d.b, format+"\n", a...) }

func (d *doc) render() (string, error) {
	d.header()
	d.machine()
	d.targets()
	d.targets16()
	d.memory()
	d.connect()
	d.wss()
	d.echo()
	if err := d.broadcast(); err != nil {
		return "", err
	}
	d.push()
	d.reload()
	d.history()
	if !d.quick {
		d.p("%s", millionSection(d.run.million))
	}
	d.problemList()
	d.method()
	return d.b.String(), nil
}

// sizes are the idle/broadcast phases present, small first.
func (d *doc) sizes() []string {
	if d.quick {
		return []string{"idle-small"}
	}
	return []string{"idle-small", "idle-large"}
}

// sizeName describes an idle phase's sizes, e.g. "50k (wsfleet) and 19k
// connections (peers)".
func (d *doc) sizeName(size string) string {
	w := d.run.get("wsfleet", size)
	if w == nil {
		return size
	}
	name := kConns(w.Conns) + " connections"
	for _, s := range servers[1:] {
		if p := d.run.get(s, size); p != nil && p.Conns != w.Conns {
			return fmt.Sprintf("%s (wsfleet), %s (peers)", name, kConns(p.Conns))
		}
	}
	return name
}

func (d *doc) header() {
	d.p("# Benchmarks\n")
	when := d.run.get("wsfleet", "idle-small")
	date := "?"
	if when != nil {
		date = when.StartedAt.UTC().Format("2006-01-02 15:04 UTC")
	}
	mode := "the full run (`make bench`)"
	if d.quick {
		mode = "a **quick** run (`make bench-quick`)"
	}
	d.p("Written by `bench/run.sh` from %s of %s, which took %s. Rerun it rather than edit this page: "+
		"`make bench` (under 15 minutes) rewrites it and `bench/plots/`; `make bench-quick` (under 2 minutes: "+
		"small sizes that exercise every measurement, for CI) writes to `bench/out/quick/` only. "+
		"Raw results: `bench/out/<full|quick>/*.json`.\n",
		mode, date, (time.Duration(d.seconds) * time.Second).String())
	d.p("wsfleet is compared with two peers built in the same run from their published modules " +
		"(`bench/peers`): [gorilla/websocket](https://github.com/gorilla/websocket) v1.5.3, one goroutine per " +
		"connection, and [nbio](https://github.com/lesismal/nbio) v1.6.8, epoll with a few goroutines. Each is a " +
		"few lines in its package's usual style, echoing every message and broadcasting on request.\n")
}

func (d *doc) machine() {
	s, e := d.run.start, d.run.end
	d.p("## Machine\n")
	d.p("| | |\n| --- | --- |")
	d.p("| CPU | %d × %s |", s.CPUs, s.CPUModel)
	d.p("| memory | %.1f GiB |", float64(s.MemBytes)/(1<<30))
	d.p("| kernel | %s |", s.Kernel)
	d.p("| Go | %s |", s.GoVersion)
	d.p("| open files per process | %s (cannot be raised here) |", s.FileLimit)
	d.p("| ephemeral ports | %s per source address |", s.PortRange)
	d.p("| load average (1, 5, 15 min) | start %.2f %.2f %.2f; end %.2f %.2f %.2f |\n", s.Load1, s.Load5, s.Load15, e.Load1, e.Load5, e.Load15)
	peak := math.Max(s.Load1, e.Load1)
	for _, r := range d.run.results {
		peak = math.Max(peak, r.Load1)
	}
	if peak > 0.5 {
		d.p("Other work shared the machine during this run: the 1-minute load average reached %.2f "+
			"(our own load generator and servers account for part of it, other engineers' tests for the "+
			"rest). Absolute figures are therefore noisy; each phase measured the three servers back to "+
			"back, so the ratios are fairer than the absolutes. The echo table shows the CPU that the rest "+
			"of the machine used during each measurement window.\n", peak)
	}
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
func mib(b int64) string   { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
func ms(v float64) string {
	if v < 0 {
		return "never"
	}
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.0f", v)
}
func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// trialList says, for the rows measured more than once, every run's key
// figure; the rows show the median run.
func (d *doc) trialList(labels []string, has func(*result) bool, f func(float64) string, what string) {
	var parts []string
	for _, l := range labels {
		for _, s := range append(servers, "floor") {
			if r := d.run.get(s, l); r != nil && has(r) && len(r.trials) > 1 {
				parts = append(parts, fmt.Sprintf("%s %s%s", s, l, trialNote(r, f)))
			}
		}
	}
	if len(parts) > 0 {
		d.p("Measured more than once, interleaved, each row showing the run with the median %s: %s.\n", what, strings.Join(parts, "; "))
	}
}

// trialNote lists a repeated measurement's runs, e.g. " (median of 3
// runs: 92k, 95k, 101k)"; f formats one figure.
// heldNote says how r's broadcast figure was measured, if held.
func heldNote(r *result) string {
	if r == nil || r.Broadcast == nil || r.Broadcast.Held == nil {
		return ""
	}
	return fmt.Sprintf(", held rounds (clients read after %s ms; timed by the kernel's receive timestamp)", ms(r.Broadcast.HoldMS))
}

func trialNote(r *result, f func(float64) string) string {
	if r == nil || len(r.trials) < 2 {
		return ""
	}
	var vs []string
	for _, v := range r.trials {
		vs = append(vs, f(v))
	}
	return fmt.Sprintf(" (median of %d runs: %s)", len(r.trials), strings.Join(vs, ", "))
}

// connectNote is trialNote for a connect storm's figure: only a result
// whose trials are storms alone (its key figure is the storm's) has them.
func connectNote(r *result) string {
	if r == nil || r.Echo != nil || r.Broadcast != nil || r.Chat != nil {
		return ""
	}
	return trialNote(r, thousands)
}

func (d *doc) met(ok bool) string {
	if d.quick {
		return "– (quick run)"
	}
	return yes(ok)
}

func yes(ok bool) string {
	if ok {
		return "**yes**"
	}
	return "**no**"
}
func thousands(n float64) string {
	s := fmt.Sprintf("%.0f", n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
func kConns(n int) string {
	if n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return thousands(float64(n))
}

func (d *doc) targets() {
	r := d.run
	d.p("## The issue's targets\n")
	if d.quick {
		d.p("Quick mode: the sizes below are far smaller than the targets', so this table checks the paths, not the targets.\n")
	}
	d.p("| target (issue 5) | measured in this run | met |\n| --- | --- | --- |")
	size := d.sizes()[len(d.sizes())-1]
	if w := r.get("wsfleet", size); w != nil && w.Memory != nil {
		d.p("| ≤ 1.0 KiB per idle connection at 50k, push app, all processes (PSS) | %s per connection at %s (%s counting the fixed cost: PSS ÷ connections); %s | %s |",
			kib(w.Memory.PerConnBytes), kConns(w.Conns), kib(w.Memory.TotalPerConn), w.Config, d.met(w.Memory.PerConnBytes <= 1024))
	}
	for _, c := range []string{"100", "1000"} {
		w, g := r.get("wsfleet", "echo-"+c), r.get("gorilla", "echo-"+c)
		if w == nil || g == nil || w.Echo == nil || g.Echo == nil {
			continue
		}
		rt := w.Echo.PerCPUSecond / g.Echo.PerCPUSecond
		wide := ""
		if ww := r.get("wsfleet", "echo-"+c+"-wide"); ww != nil && ww.Echo != nil {
			wide = fmt.Sprintf(" (`%s`: %s, %.2f×)", ww.Config, thousands(ww.Echo.PerCPUSecond), ww.Echo.PerCPUSecond/g.Echo.PerCPUSecond)
		}
		d.p("| echo round trips per server CPU-second ≥ 1.1 × gorilla's, %s clients | wsfleet `%s` %s%s, gorilla %s%s: %.2f×%s | %s |",
			c, w.Config, thousands(w.Echo.PerCPUSecond), trialNote(w, thousands), thousands(g.Echo.PerCPUSecond),
			trialNote(g, thousands), rt, wide, d.met(rt >= 1.1))
	}
	if w := r.get("wsfleet", size); w != nil && w.Broadcast != nil {
		b := w.bc()
		live := ""
		if w.Broadcast.Held != nil {
			live = fmt.Sprintf("; clients reading as it goes, on the same two cores: p99 %s ms", ms(w.Broadcast.P99MS))
		}
		d.p("| broadcast to 50k: 99 %% delivered within 200 ms | p99 %s ms to %s%s (median of %d rounds)%s | %s |",
			ms(b.P99MS), kConns(w.Conns), heldNote(w), len(b.Rounds), live, d.met(b.P99MS >= 0 && b.P99MS <= 200))
		// Same N: the peers cannot hold 50k here, so compare where they
		// can, wsfleet at their size (idle-same) and at the small size.
		var parts []string
		faster := true
		for _, pair := range [][2]string{{"idle-same", size}, {"idle-small", "idle-small"}} {
			ws := r.get("wsfleet", pair[0])
			if ws == nil || ws.Broadcast == nil {
				continue
			}
			line := fmt.Sprintf("at %s: wsfleet %s ms%s", kConns(ws.Conns), ms(ws.bc().P99MS), trialNote(ws, ms))
			for _, s := range servers[1:] {
				if p := r.get(s, pair[1]); p != nil && p.Broadcast != nil && p.Conns == ws.Conns {
					w, q := ws.bc().P99MS, p.bc().P99MS
					line += fmt.Sprintf(", %s %s ms%s", s, ms(q), trialNote(p, ms))
					faster = faster && w >= 0 && (q < 0 || w < q)
				}
			}
			parts = append(parts, line)
		}
		d.p("| broadcast faster than every peer at the same N (p99%s; a peer is one process and cannot hold 50k here) | %s | %s |",
			heldNote(r.get("wsfleet", size)),
			strings.Join(parts, "; "), d.met(faster && len(parts) > 0))
	}
	if w := r.get("wsfleet", "push"); w != nil && w.Push != nil {
		worst := 0.0
		for _, t := range w.Push.Ticks {
			worst = math.Max(worst, t.MaxMS)
		}
		d.p("| 100k connections on `master start -count 8`, every tick delivered to each | %s connections (%s), %d ticks: %d connections missed one; slowest delivery %s ms after the tick | %s |",
			thousands(float64(w.Conns)), w.Config, len(w.Push.Ticks), w.Push.MissedConns, ms(worst),
			d.met(w.Push.AllDelivered && w.OK && w.Conns >= 100000))
	}
	d.p("")
}

func (d *doc) memory() {
	d.p("## Memory per idle connection\n")
	d.p("PSS summed over every process of the server (for wsfleet: the master with its embedded NATS, and the workers), " +
		"after the connections are open and idle and the figure has settled. *Per connection* is the growth divided by " +
		"the connections; *PSS ÷ connections* also spreads the fixed cost of the processes. Kernel memory (socket " +
		"structures and buffers) is in neither: see the method.\n")
	d.p("| server | started as | connections | PSS before | PSS with them | per connection | PSS ÷ connections | processes |")
	d.p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, size := range d.sizes() {
		for _, s := range servers {
			if r := d.run.get(s, size); r != nil && r.Memory != nil {
				m := r.Memory
				d.p("| %s | `%s` | %s | %s | %s | %s | %s | %d |", s, r.Config, thousands(float64(r.Conns)),
					mib(m.BaselineBytes), mib(m.Bytes), kib(m.PerConnBytes), kib(m.TotalPerConn), m.Processes)
			}
		}
	}
	d.p("")
	for _, size := range d.sizes() {
		d.ratios(size, "memory per connection (lower is better)", func(r *result) float64 {
			if r.Memory == nil {
				return 0
			}
			return r.Memory.PerConnBytes
		})
	}
	d.p("")
}

// ratios writes "wsfleet ÷ peer" for one metric of one phase.
func (d *doc) ratios(label, what string, f func(*result) float64) {
	w := d.run.get("wsfleet", label)
	if w == nil {
		return
	}
	var parts []string
	for _, s := range servers[1:] {
		if p := d.run.get(s, label); p != nil {
			note := ""
			if p.Conns != w.Conns {
				note = fmt.Sprintf(" (wsfleet at %s, %s at %s)", kConns(w.Conns), s, kConns(p.Conns))
			}
			parts = append(parts, fmt.Sprintf("%s %s%s", ratio(f(w), f(p)), s, note))
		}
	}
	d.p("- %s, %s, wsfleet ÷ peer: %s.", label, what, strings.Join(parts, ", "))
}

func (d *doc) connect() {
	d.p("## Connections opened per second\n")
	d.p("TCP connect and WebSocket handshake, all client processes dialling at once (64 dials in flight each), " +
		"timed from the command to open until the last handshake is done. The server's CPU is utime + stime of all " +
		"its processes over that time (for wsfleet the master with its embedded NATS, and every worker; 10 ms ticks).\n")
	d.p("| phase | server | connections | client processes | source addresses | seconds | connections/s | server CPU-s | connections per server CPU-s | client CPU-s |")
	d.p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	row := func(l, s string) {
		r := d.run.get(s, l)
		if r == nil || r.Connect == nil {
			return
		}
		c := r.Connect
		cpu, per, cli := "–", "–", "–"
		if c.ServerCPUSeconds > 0 {
			cpu, per, cli = fmt.Sprintf("%.2f", c.ServerCPUSeconds), thousands(c.PerCPUSecond)+connectNote(r), fmt.Sprintf("%.2f", c.ClientCPUSeconds)
		}
		d.p("| %s | %s | %s | %d | %d | %.2f | %s | %s | %s | %s |", l, s, thousands(float64(r.Conns)), r.ClientProcs, r.Sources,
			c.Seconds, thousands(c.PerSecond), cpu, per, cli)
	}
	for _, l := range append(d.sizes(), "push") {
		for _, s := range servers {
			row(l, s)
		}
	}
	// The storms alone, wsfleet with one worker per core (connect_wide).
	for _, l := range []string{"connect-small", "connect-large"} {
		row(l+"-wide", "wsfleet")
		for _, s := range servers[1:] {
			row(l, s)
		}
	}
	d.p("")
	if w := d.run.get("wsfleet", "connect-small-wide"); w != nil {
		idle := "the idle phases' configuration"
		if i := d.run.get("wsfleet", "idle-small"); i != nil {
			idle = "`" + i.Config + "`"
		}
		d.p("The idle-* rows are the storms that open the idle phases' connections, wsfleet as %s. The connect-* rows "+
			"are storms alone, at the small size and at the peers' large size: wsfleet as `%s` (one worker per core, "+
			"the README's sizing) and each peer, the median of the trials (every trial's connections per server "+
			"CPU-s in parentheses).\n", idle, w.Config)
	}
	for _, size := range d.sizes() {
		d.ratios(size, "connections/s (higher is better)", func(r *result) float64 { return r.Connect.PerSecond })
		d.ratios(size, "connections per server CPU-s (higher is better)", func(r *result) float64 { return r.Connect.PerCPUSecond })
	}
	d.p("")
}

func (d *doc) echo() {
	d.p("## Echo\n")
	d.p("Each client sends a message, waits for the answer, checks it, and sends the next (closed loop). " +
		"The server's CPU is utime + stime of all its processes over the window (/proc/PID/stat, 10 ms ticks). " +
		"Clients and server share the two cores.\n")
	d.p("| server | started as | clients | round trips/s | server CPU-s | round trips per server CPU-s | p50 ms | p99 ms | max ms | client CPU-s | rest of machine CPU-s |")
	d.p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var labels []string
	for _, c := range []string{"100", "1000"} {
		if d.run.get("wsfleet", "echo-"+c) != nil {
			labels = append(labels, "echo-"+c)
		}
	}
	for _, l := range labels {
		for _, s := range servers {
			rs := []*result{d.run.get(s, l)}
			if s == "wsfleet" {
				rs = append(rs, d.run.get(s, l+"-wide"))
			}
			for _, r := range rs {
				if r == nil || r.Echo == nil {
					continue
				}
				e := r.Echo
				d.p("| %s | `%s` | %d | %s | %.2f | %s | %s | %s | %s | %.2f | %.2f |", s, r.Config, e.Clients,
					thousands(e.PerSecond), e.ServerCPUSeconds, thousands(e.PerCPUSecond), ms(e.P50MS), ms(e.P99MS),
					ms(e.MaxMS), e.ClientCPUSeconds, e.OtherCPUSeconds)
			}
		}
	}
	d.p("")
	var echoLabels []string
	for _, l := range labels {
		echoLabels = append(echoLabels, l, l+"-wide")
	}
	d.trialList(echoLabels, func(r *result) bool { return r.Echo != nil }, thousands, "round trips per server CPU-second")
	var busy []string
	for _, l := range labels {
		for _, s := range servers {
			if r := d.run.get(s, l); r != nil && r.Echo != nil && r.Echo.Seconds > 0 {
				share := r.Echo.OtherCPUSeconds / (r.Echo.Seconds * float64(d.run.start.CPUs))
				if share > 0.1 {
					busy = append(busy, fmt.Sprintf("%s %s (%.0f %%)", s, l, 100*share))
				}
			}
		}
	}
	if len(busy) > 0 {
		d.p("The rest of the machine (other processes, such as other engineers' tests, and kernel threads) took "+
			"more than 10 %% of its CPU during: %s. Those rows' round trips per second and latencies are depressed "+
			"by it; round trips per server CPU-second much less so.\n", strings.Join(busy, ", "))
	}
	for _, l := range labels {
		d.ratios(l, "round trips per server CPU-second (higher is better)", func(r *result) float64 { return r.Echo.PerCPUSecond })
		d.ratios(l, "round trips per second (higher is better)", func(r *result) float64 { return r.Echo.PerSecond })
		d.ratios(l, "p99 latency (lower is better)", func(r *result) float64 { return r.Echo.P99MS })
	}
	d.p("")
}

func (d *doc) broadcast() error {
	d.p("## Broadcast\n")
	d.p("One message to every idle connection of the memory phase, timed from the publish until 50 %%, 99 %% and " +
		"100 %% of the connections have it (each message carries its publish time; every client process reads the " +
		"same clock). wsfleet's is published on its NATS subject `wsfleet.all`, as any application would; a peer's " +
		"is asked for by a control connection (\"BROADCAST <payload>\"). Two kinds of round alternate (see the method): " +
		"**held**, where the clients read nothing until the broadcast is over and each delivery is timed by the " +
		"kernel's receive timestamp, which is what the server achieves when its clients' CPU is not its own; and " +
		"**live**, where the clients read as the messages come, on the same two cores. Figures are the median of " +
		"the rounds; the targets are judged on the held ones.\n")
	d.p("| server | connections | held p50 ms | held p99 ms | held 100 %% ms | live p50 ms | live p99 ms | live 100 %% ms | rounds that reached all | server CPU µs per delivery, held / live | clients' CPU µs per delivery, live |")
	d.p("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	row := func(s string, r *result) {
		b, h := r.Broadcast, r.Broadcast.Held
		hm, hcpu := func(float64) string { return "–" }, "–"
		if h != nil {
			hm, hcpu = ms, fmt.Sprintf("%.1f", h.ServerCPUUS)
		} else {
			h = &record.Rounds{}
		}
		full, n := b.FullyDelivered+h.FullyDelivered, len(b.Rounds.Rounds)+len(h.Rounds)
		d.p("| %s | %s | %s | %s | %s | %s | %s | %s | %d of %d | %s / %.1f | %.1f |", s, thousands(float64(r.Conns)),
			hm(h.P50MS), hm(h.P99MS), hm(h.P100MS), ms(b.P50MS), ms(b.P99MS), ms(b.P100MS),
			full, n, hcpu, b.ServerCPUUS, b.ClientCPUUS)
	}
	for _, size := range d.sizes() {
		for _, s := range append(servers, "floor") {
			if r := d.run.get(s, size); r != nil && r.Broadcast != nil {
				row(s, r)
			}
		}
	}
	same := d.run.get("wsfleet", "idle-same")
	if same != nil && same.Broadcast != nil {
		row("wsfleet", same)
	}
	d.p("")
	d.trialList([]string{"idle-large", "idle-same"}, func(r *result) bool { return r.Broadcast != nil }, ms, "p99 ms")
	d.p("`floor` is no server: `bench/peers/floor` upgrades with gobwas/ws, keeps the sockets, and writes the " +
		"frame, encoded once, to every socket with a bare write(2) from one goroutine per core. It is what a " +
		"broadcast costs this machine before any server adds anything.\n")
	for _, size := range d.sizes() {
		f := d.run.get("floor", size)
		if f == nil || f.Broadcast == nil || f.bc().P99MS <= 0 {
			continue
		}
		var parts []string
		for _, s := range servers {
			r := d.run.get(s, size)
			if s == "wsfleet" && (r == nil || r.Conns != f.Conns) {
				r = same
			}
			if r != nil && r.Broadcast != nil && r.Conns == f.Conns && r.bc().P99MS > 0 {
				parts = append(parts, fmt.Sprintf("%s %.2f×", s, r.bc().P99MS/f.bc().P99MS))
			}
		}
		d.p("- at %s, held p99 ÷ the floor's: %s.", kConns(f.Conns), strings.Join(parts, ", "))
	}
	for _, size := range d.sizes() {
		d.ratios(size, "time until 99 % have it, held (lower is better)", func(r *result) float64 { return r.bc().P99MS })
	}
	if same != nil && same.Broadcast != nil {
		var parts []string
		for _, s := range servers[1:] {
			if p := d.run.get(s, "idle-large"); p != nil && p.Broadcast != nil && p.Conns == same.Conns {
				parts = append(parts, fmt.Sprintf("%s %s", ratio(same.bc().P99MS, p.bc().P99MS), s))
			}
		}
		d.p("- at the same N (%s), time until 99 %% have it, held (lower is better), wsfleet ÷ peer: %s.", kConns(same.Conns), strings.Join(parts, ", "))
	}
	d.p("")
	for _, size := range d.sizes() {
		var ss []series
		title := "Broadcast to " + d.sizeName(size)
		for _, s := range append(servers, "floor") {
			r := d.run.get(s, size)
			if r == nil || r.Broadcast == nil || len(r.bc().Rounds) == 0 {
				continue
			}
			rd := r.bc().Rounds[r.bc().MedianRound]
			ss = append(ss, series{Name: fmt.Sprintf("%s, %s conns", s, kConns(r.Conns)), CDF: rd.CDFMS})
		}
		if size == "idle-large" && same != nil && same.Broadcast != nil && len(same.bc().Rounds) > 0 {
			rd := same.bc().Rounds[same.bc().MedianRound]
			ss = append(ss, series{Name: fmt.Sprintf("wsfleet, %s conns", kConns(same.Conns)), CDF: rd.CDFMS})
		}
		if len(ss) == 0 {
			continue
		}
		name := "broadcast-" + strings.TrimPrefix(size, "idle-") + ".svg"
		if err := plotCDF(filepath.Join(d.plotDir, name), title+": the held round with the median p99", ss); err != nil {
			return fmt.Errorf("report: %w", err)
		}
		d.p("![%s: share of connections that have the message over time](%s/%s)\n", title, d.plotLink, name)
	}
	return nil
}

func (d *doc) push() {
	r := d.run.get("wsfleet", "push")
	if r == nil || r.Push == nil {
		return
	}
	d.p("## The push app at %s connections\n", thousands(float64(r.Conns)))
	d.p("`%s`: the master's timer publishes `你好!` every %gs; every connection must get every tick once. "+
		"Delays count from when the benchmark's own NATS subscriber saw the tick, or the first connection got it if that was earlier.\n", r.Config, r.Push.IntervalSeconds)
	d.p("| tick | delivered | p50 ms | p99 ms | max ms |\n| ---: | ---: | ---: | ---: | ---: |")
	for i, t := range r.Push.Ticks {
		d.p("| %d | %s of %s | %s | %s | %s |", i+1, thousands(float64(t.Delivered)), thousands(float64(t.Conns)), ms(t.P50MS), ms(t.P99MS), ms(t.MaxMS))
	}
	worst := 0.0
	for _, t := range r.Push.Ticks {
		worst = math.Max(worst, t.MaxMS)
	}
	queued := ""
	if worst > r.Push.IntervalSeconds*1000 {
		queued = " The slowest delivery took longer than the interval: ticks queued behind one another."
	}
	d.p("\nEvery connection got every tick: %s.%s\n", yes(r.Push.AllDelivered), queued)
}

func (d *doc) problemList() {
	p := d.run.problems()
	if len(p) == 0 {
		return
	}
	d.p("## Problems in this run\n")
	for _, s := range p {
		d.p("- %s", s)
	}
	d.p("")
}
