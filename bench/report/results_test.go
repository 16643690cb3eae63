package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRepeatedRunsGiveTheMedian: "echo-100", "echo-100@2" and "echo-100@3"
// are one row, the run with the median figure, listing all three; a failed
// trial is still a problem.
func TestRepeatedRunsGiveTheMedian(t *testing.T) {
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
	for i, v := range []float64{120, 90, 100} {
		label := "echo-100"
		if i > 0 {
			label += "@" + string(rune('1'+i))
		}
		write("gorilla-"+label+".json", map[string]any{
			"server": "gorilla", "label": label, "ok": i != 1,
			"echo": map[string]any{"per_server_cpu_second": v, "round_trips": 1, "server_cpu_seconds": 1},
		})
	}
	r, err := load(dir)
	if err != nil {
		t.Fatal(err)
	}
	g := r.get("gorilla", "echo-100")
	if g == nil || g.Echo.PerCPUSecond != 100 || !slices.Equal(g.trials, []float64{90, 100, 120}) {
		t.Fatalf("got %+v", g)
	}
	if r.get("gorilla", "echo-100@2") != nil {
		t.Error("a trial is its own row")
	}
	if !slices.ContainsFunc(r.problems(), func(p string) bool { return p == "gorilla echo-100@2: failed: " }) {
		t.Errorf("the failed trial is not a problem: %q", r.problems())
	}
}
