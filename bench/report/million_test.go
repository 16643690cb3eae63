package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// TestMillionSectionIsKept: -million-only puts the section from the kept
// results into a report that has none, replaces it in one that has one,
// and leaves the rest of the page alone; a ceiling names the count held.
func TestMillionSectionIsKept(t *testing.T) {
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
	res := record.Result{Server: "wsfleet", Label: "million", Conns: 1_000_000, OK: true,
		Connect: &record.Connect{Opened: 1_000_000, Seconds: 100},
		Memory:  &record.Memory{Bytes: 2 << 30, BaselineBytes: 1 << 30, SlabBytes: 8 << 30},
		Push:    &record.Push{AllDelivered: true, IntervalSeconds: 60, Ticks: []record.Tick{{Delivered: 1_000_000, P99MS: 9000}}}}
	write("wsfleet-million.json", res)
	write("machine.json", record.Machine{CPUs: 2})
	write("run.json", map[string]any{"seconds": 600, "sysctls": "x"})
	out := filepath.Join(t.TempDir(), "benchmarks.md")
	page := "# Benchmarks\n\ntext\n\n## Method\n\nmethod\n"
	if err := os.WriteFile(out, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := writeMillionOnly(dir, out); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	md := string(b)
	if !strings.Contains(md, "**Held 1,000,000 connections, and every one got every tick.**") ||
		strings.Index(md, millionBegin) > strings.Index(md, "## Method") || !strings.HasPrefix(md, "# Benchmarks\n\ntext\n") {
		t.Fatalf("section not placed before the method:\n%s", md)
	}
	res.Connect.Opened, res.Connect.Failed, res.Push.AllDelivered = 700_000, 300_000, false
	res.Connect.Errors = []string{"dial: cannot assign requested address"}
	write("wsfleet-million.json", res)
	if err := writeMillionOnly(dir, out); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(out)
	md = string(b)
	if strings.Count(md, millionBegin) != 1 || strings.Contains(md, "Held 1,000,000") ||
		!strings.Contains(md, "**Highest count held: 700,000 of 1,000,000.**") || !strings.Contains(md, "cannot assign") ||
		!strings.HasSuffix(md, "## Method\n\nmethod\n") {
		t.Fatalf("section not replaced:\n%s", md)
	}
}
