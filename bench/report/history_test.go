package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestHistorySection: the history phase's two rooms make one section with
// their ratio; a run without the room without history is a problem.
func TestHistorySection(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("machine-start.json", map[string]any{"cpus": 2})
	write("machine-end.json", map[string]any{"cpus": 2})
	chat := func(label string, perSaid, p99 float64) {
		write("wsfleet-"+label+".json", map[string]any{"server": "wsfleet", "label": label, "ok": true,
			"chat": map[string]any{"members": 100, "senders": 5, "rate_per_second": 50, "said": 150, "expected": 15000,
				"delivered": 15000, "seconds": 3, "server_cpu_seconds": perSaid * 150 / 1e6, "server_cpu_us_per_said": perSaid, "p99_ms": p99}})
	}
	chat("chat-history", 3000, 12)
	r, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(r.problems(), "wsfleet chat-nohistory: no result") {
		t.Errorf("no problem for the missing room without history: %q", r.problems())
	}
	chat("chat-nohistory", 2000, 6)
	if r, err = load(dir); err != nil {
		t.Fatal(err)
	}
	d := &doc{run: r}
	d.history()
	md := d.b.String()
	for _, want := range []string{"## Room history", "| 3000 |", "| 2000 |", "server CPU per message said 1.50×", "p99 2.00×"} {
		if !strings.Contains(md, want) {
			t.Errorf("no %q in\n%s", want, md)
		}
	}
}
