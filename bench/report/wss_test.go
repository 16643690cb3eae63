package main

import (
	"strings"
	"testing"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// TestTargets16WSS: issue 16's wss:// row judges wsfleet's "wss" phase
// against gorilla's behind crypto/tls, per server CPU-second (≥ 1.2×) and
// per second (no worse), from this run's figures; without gorilla's figure
// it is not measured, and the report lists the missing result.
func TestTargets16WSS(t *testing.T) {
	wss := func(server string, perCPU, perSec float64, resumed int) *result {
		return &result{Result: record.Result{Server: server, Label: "wss", Conns: 10000, OK: true,
			Config: server + " config", Connect: &record.Connect{Opened: 10000, PerCPUSecond: perCPU, PerSecond: perSec, Resumed: resumed, TLS: "TLS 1.3"}}}
	}
	for _, tc := range []struct {
		name      string
		w, g      *result
		want      string // the row's end
		contains  string
		problem   string
		tableRows int
	}{
		{name: "met", w: wss("wsfleet", 2400, 1000, 2500), g: wss("gorilla", 2000, 900, 10000),
			want: "**yes** |", contains: "2,500 (25 %) resumed", tableRows: 2},
		{name: "per CPU-s met, wall slower", w: wss("wsfleet", 2400, 800, 10000), g: wss("gorilla", 2000, 900, 10000),
			want: "**no** |", contains: "1.20×", tableRows: 2},
		{name: "per CPU-s short", w: wss("wsfleet", 2300, 1000, 10000), g: wss("gorilla", 2000, 900, 10000),
			want: "**no** |", contains: "1.15×", tableRows: 2},
		{name: "gorilla missing", w: wss("wsfleet", 2400, 1000, 10000),
			want: "**no** |", contains: "not measured in this run", problem: "gorilla wss: no result", tableRows: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := &run{results: map[string]*result{}}
			for _, r := range []*result{tc.w, tc.g} {
				if r != nil {
					run.results[r.Server+" "+r.Label] = r
					run.raw = append(run.raw, r)
				}
			}
			d := &doc{run: run}
			d.wssTarget()
			row := strings.TrimSpace(d.b.String())
			if !strings.Contains(row, "`wss://` handshakes") || !strings.HasSuffix(row, tc.want) || !strings.Contains(row, tc.contains) {
				t.Errorf("row = %q, want it to contain %q and end %q", row, tc.contains, tc.want)
			}
			d = &doc{run: run}
			d.wss()
			if n := strings.Count(d.b.String(), "| wss | "); n != tc.tableRows {
				t.Errorf("wss table has %d rows, want %d:\n%s", n, tc.tableRows, d.b.String())
			}
			probs := strings.Join(run.problems(), "\n")
			if tc.problem != "" && !strings.Contains(probs, tc.problem) {
				t.Errorf("problems %q: want %q", probs, tc.problem)
			}
			if tc.problem == "" && strings.Contains(probs, "wss") {
				t.Errorf("problems %q: want none about wss", probs)
			}
		})
	}
}
