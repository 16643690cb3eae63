package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// result is one load generator run's record, with what the report adds.
type result struct {
	record.Result
	// trials are the key figure (echo: round trips per server CPU-second;
	// broadcast: p99 ms) of every run of this server and label, when it
	// was measured more than once; this result is the median one.
	trials []float64
}

// bc is the broadcast rounds the targets are judged on: the held ones,
// timed by arrival with the clients' CPU out of the way; live ones in
// results from before held rounds existed. Nil without a broadcast.
func (r *result) bc() *record.Rounds {
	switch {
	case r.Broadcast == nil:
		return nil
	case r.Broadcast.Held != nil:
		return r.Broadcast.Held
	}
	return &r.Broadcast.Rounds
}

// run is everything one bench/run.sh left in its output folder.
type run struct {
	results    map[string]*result // "server label": the median trial
	raw        []*result          // every result, every trial
	start, end record.Machine
	million    *millionRun // bench/million/, nil when never run
}

func (r *run) get(server, label string) *result { return r.results[server+" "+label] }

func load(dir string) (*run, error) {
	r := &run{results: make(map[string]*result)}
	for name, dst := range map[string]*record.Machine{"machine-start.json": &r.start, "machine-end.json": &r.end} {
		if err := readJSON(filepath.Join(dir, name), dst); err != nil {
			return nil, err
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*-*.json"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "machine-") {
			continue
		}
		res := new(result)
		if err := readJSON(f, res); err != nil {
			return nil, err
		}
		r.raw = append(r.raw, res)
	}
	// bench/run.sh labels a repeated measurement's later runs "LABEL@2",
	// "LABEL@3": the report uses the median run.
	groups := make(map[string][]*result)
	for _, res := range r.raw {
		base, _, _ := strings.Cut(res.Label, "@")
		k := res.Server + " " + base
		groups[k] = append(groups[k], res)
	}
	for k, g := range groups {
		r.results[k] = median(g)
	}
	return r, nil
}

// keyFigure is what picks the median among a label's runs.
func keyFigure(r *result) float64 {
	switch {
	case r.Echo != nil:
		return r.Echo.PerCPUSecond
	case r.Broadcast != nil:
		return r.bc().P99MS
	case r.Chat != nil:
		return r.Chat.CPUUSPerSaid
	case r.Connect != nil:
		return r.Connect.PerCPUSecond // a connect-rate run (wss://)
	}
	return 0
}

// median returns the run with the median key figure (the lower middle
// of an even count), with every run's figure in its trials.
func median(g []*result) *result {
	if len(g) == 1 {
		return g[0]
	}
	sort.Slice(g, func(i, j int) bool { return keyFigure(g[i]) < keyFigure(g[j]) })
	m := g[(len(g)-1)/2]
	for _, res := range g {
		m.trials = append(m.trials, keyFigure(res))
	}
	return m
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("report: %s: %w", path, err)
	}
	return nil
}

// problems lists what is missing or failed: every server needs every phase
// that wsfleet ran (push is wsfleet's alone), every run must be ok, and
// every broadcast must have reached every connection.
func (r *run) problems() []string {
	var p []string
	labels := []string{"idle-small", "echo-100"}
	for _, l := range []string{"idle-large", "echo-1000"} {
		if r.get("wsfleet", l) != nil {
			labels = append(labels, l)
		}
	}
	for _, s := range servers {
		for _, l := range labels {
			if r.get(s, l) == nil {
				p = append(p, fmt.Sprintf("%s %s: no result", s, l))
			}
		}
	}
	if r.get("wsfleet", "push") == nil {
		p = append(p, "wsfleet push: no result")
	}
	p = append(p, r.historyProblems()...)
	p = append(p, r.wssProblems()...)
	raw := append([]*result(nil), r.raw...)
	sort.Slice(raw, func(i, j int) bool {
		return raw[i].Server+" "+raw[i].Label < raw[j].Server+" "+raw[j].Label
	})
	for _, res := range raw {
		k := res.Server + " " + res.Label
		if !res.OK {
			p = append(p, fmt.Sprintf("%s: failed: %s", k, strings.Join(res.Errors, "; ")))
		}
		if b := res.Broadcast; b != nil {
			for _, rs := range []*record.Rounds{&b.Rounds, b.Held} {
				if rs != nil && rs.FullyDelivered < len(rs.Rounds) {
					p = append(p, fmt.Sprintf("%s: %d of %d broadcasts reached every connection", k, rs.FullyDelivered, len(rs.Rounds)))
				}
			}
		}
		if e := res.Echo; e != nil && (e.RoundTrips == 0 || e.ServerCPUSeconds <= 0) {
			p = append(p, fmt.Sprintf("%s: echo measured nothing", k))
		}
		if m := res.Memory; m != nil && m.Bytes <= m.BaselineBytes {
			p = append(p, fmt.Sprintf("%s: memory did not grow with the connections", k))
		}
	}
	return p
}
