package main

import (
	"fmt"
	"strings"
)

// wssLabels are the wss:// connect phases (bench/run.sh wss_connect): at
// the ws:// phase's worker count, and wsfleet alone at -count 1.
var wssLabels = []string{"wss", "wss-count1"}

// wssServers are the servers measured over wss://: wsfleet serving TLS
// itself, gorilla behind crypto/tls (nbio is not measured over TLS).
var wssServers = []string{"wsfleet", "gorilla"}

// wss writes the table of the wss:// connect storm.
func (d *doc) wss() {
	if d.run.get("wsfleet", "wss") == nil && d.run.get("gorilla", "wss") == nil {
		return
	}
	d.p("## wss:// connections opened per second\n")
	d.p("TCP connect, TLS 1.3 handshake and WebSocket handshake, all client processes dialling at once (64 dials in " +
		"flight each, spread over source addresses), timed and charged as the ws:// storm above. The certificate is a " +
		"throwaway self-signed ECDSA P-256 one, which the clients trust; key exchange is crypto/tls's default on both ends. " +
		"Each client process shares one session cache among its connections and fills it first by opening and closing a " +
		"few connections one at a time (the warm-up, outside every figure); the timed storm then resumes every ticket the " +
		"server accepts. *resumed* counts the timed handshakes that resumed a session (`DidResume`) instead of a full one.\n")
	d.p("| phase | server | config | connections | seconds | connections/s | resumed | server CPU-s | connections per server CPU-s | client CPU-s |")
	d.p("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, l := range wssLabels {
		for _, s := range wssServers {
			r := d.run.get(s, l)
			if r == nil || r.Connect == nil {
				continue
			}
			c := r.Connect
			d.p("| %s | %s | `%s` | %s | %.2f | %s | %s | %.2f | %s | %.2f |", l, s, r.Config, thousands(float64(r.Conns)),
				c.Seconds, thousands(c.PerSecond), resumedNote(r), c.ServerCPUSeconds, thousands(c.PerCPUSecond), c.ClientCPUSeconds)
		}
	}
	d.p("")
	if d.run.get("wsfleet", "wss") != nil && d.run.get("gorilla", "wss") != nil {
		d.wssRatios("connections/s (higher is better)", func(r *result) float64 { return r.Connect.PerSecond })
		d.wssRatios("connections per server CPU-s (higher is better)", func(r *result) float64 { return r.Connect.PerCPUSecond })
		d.p("")
	}
}

// wssRatios writes "wsfleet ÷ gorilla" for one wss:// metric, each of
// wsfleet's phases against gorilla's one.
func (d *doc) wssRatios(what string, f func(*result) float64) {
	g := d.run.get("gorilla", "wss")
	var parts []string
	for _, l := range wssLabels {
		if w := d.run.get("wsfleet", l); w != nil && w.Connect != nil && g.Connect != nil {
			parts = append(parts, fmt.Sprintf("%s %s", ratio(f(w), f(g)), l))
		}
	}
	d.p("- wss://, %s, wsfleet ÷ gorilla: %s.", what, strings.Join(parts, ", "))
}

// resumedNote is "n (p %)" of a wss:// run's timed handshakes.
func resumedNote(r *result) string {
	c := r.Connect
	if c.Opened == 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%.0f %%)", thousands(float64(c.Resumed)), 100*float64(c.Resumed)/float64(c.Opened))
}

// wssTarget is issue 16's wss:// row: wsfleet's connections per server
// CPU-second at least 1.2 × gorilla's behind crypto/tls, and connections/s
// no worse, both from this run's "wss" phase.
func (d *doc) wssTarget() {
	const target = "the same for `wss://` handshakes served by wsfleet itself (TLS 1.3, resumption), against gorilla behind crypto/tls"
	w, g := d.run.get("wsfleet", "wss"), d.run.get("gorilla", "wss")
	if w == nil || g == nil || w.Connect == nil || g.Connect == nil || g.Connect.PerCPUSecond <= 0 || !w.OK || !g.OK {
		d.p("| %s | not measured in this run | %s |", target, d.met(false))
		return
	}
	wc, gc := w.Connect, g.Connect
	rt := wc.PerCPUSecond / gc.PerCPUSecond
	d.p("| %s | wsfleet `%s` %s per CPU-s, %s/s, %s resumed; gorilla %s per CPU-s, %s/s, %s resumed; at %s: %.2f× | %s |",
		target, w.Config, thousands(wc.PerCPUSecond), thousands(wc.PerSecond), resumedNote(w),
		thousands(gc.PerCPUSecond), thousands(gc.PerSecond), resumedNote(g), kConns(w.Conns), rt,
		d.met(rt >= 1.2 && wc.PerSecond >= gc.PerSecond))
}

// wssProblems: a wss:// phase needs both servers, and a failed one is
// already among the failed runs.
func (r *run) wssProblems() []string {
	var p []string
	if (r.get("wsfleet", "wss") == nil) != (r.get("gorilla", "wss") == nil) {
		for _, s := range wssServers {
			if r.get(s, "wss") == nil {
				p = append(p, fmt.Sprintf("%s wss: no result", s))
			}
		}
	}
	return p
}
