// Command report turns one bench/run.sh output folder into the Markdown of
// docs/benchmarks.md and its SVG plots, and exits 1 when a measurement is
// missing or failed (the problems are listed in the report too).
//
//	report -in bench/out/full -out docs/benchmarks.md -plots bench/plots -seconds 612
//	report -million-only -million bench/million -out docs/benchmarks.md
//
// The million section (bench/million.sh) comes from the results kept in
// -million, in every report: a `make bench` keeps the last one.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

// servers in table order: ours, then the peers.
var servers = []string{"wsfleet", "gorilla", "nbio"}

func main() {
	in := flag.String("in", "bench/out/full", "the folder bench/run.sh wrote")
	out := flag.String("out", "docs/benchmarks.md", "the Markdown to write")
	plots := flag.String("plots", "bench/plots", "folder for the SVG plots")
	secs := flag.Int("seconds", 0, "how long the whole run took")
	million := flag.String("million", "bench/million", "the results bench/million.sh kept, for the million section")
	only := flag.Bool("million-only", false, "replace only the million section of -out, from -million")
	flag.Parse()
	var err error
	if *only {
		err = writeMillionOnly(*million, *out)
	} else {
		err = generate(*in, *out, *plots, *million, *secs)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func generate(in, out, plots, million string, secs int) error {
	r, err := load(in)
	if err != nil {
		return err
	}
	if r.million, err = loadMillion(million); err != nil {
		return err
	}
	if err := os.MkdirAll(plots, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	rel, err := filepath.Rel(filepath.Dir(out), plots)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	d := &doc{run: r, plotDir: plots, plotLink: filepath.ToSlash(rel), seconds: secs, quick: r.get("wsfleet", "idle-large") == nil}
	md, err := d.render()
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if p := r.problems(); len(p) > 0 {
		return fmt.Errorf("report: %d problems (listed in %s): %v", len(p), out, p)
	}
	return nil
}
