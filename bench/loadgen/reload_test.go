package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

func TestLongestGap(t *testing.T) {
	if _, ok := longestGap([]int64{5}); ok {
		t.Fatal("one receipt has no gap")
	}
	g, ok := longestGap([]int64{0, 1000, 3500, 4000})
	if !ok || g != 2500 {
		t.Fatalf("longestGap = %d, %v; want 2500, true", g, ok)
	}
}

func TestPushTallyDoubledAndGaps(t *testing.T) {
	ticks := []int64{1e9, 2e9, 3e9}
	recv := [][]int64{
		{1e9 + 1e6, 2e9 + 1e6, 3e9 + 1e6},            // every tick once
		{1e9 + 1e6, 2e9 + 1e6, 2e9 + 2e6, 3e9 + 1e6}, // one twice
		{1e9 + 1e6, 3e9 + 5e8},                       // one missed, a 2.5 s gap
	}
	rep := pushTally(recv, ticks)
	if rep.Doubled != 1 || rep.MissedConns != 1 {
		t.Fatalf("doubled %d, missed %d; want 1, 1", rep.Doubled, rep.MissedConns)
	}
	if got := rep.Gaps.QuantileMS(1); got != 2499 {
		t.Fatalf("longest gap %v ms; want 2499", got)
	}
}

func TestHandoffLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.log")
	before := `time=x level=INFO msg="reload: connections handed off" master=1 worker=0 from=2 to=3 moved=999 kept=0 took=1s` + "\n"
	after := `time=x level=INFO msg="connections handed off" worker=0 pid=2 moved=10 kept=0 took=5ms
time=x level=INFO msg="reload: connections handed off" master=1 worker=0 from=2 to=3 moved=10 kept=0 took=5ms
time=x level=INFO msg="reload: connections handed off" master=1 worker=1 from=4 to=5 moved=12 kept=3 took=1.5s
`
	if err := os.WriteFile(path, []byte(before+after), 0o600); err != nil {
		t.Fatal(err)
	}
	rl := &record.Reload{}
	if err := handoffLog(rl, path, int64(len(before))); err != nil {
		t.Fatal(err)
	}
	want := record.Reload{HandedOff: 22, Kept: 3, HandoffSlots: 2, HandoffMaxMS: 1500}
	if *rl != want {
		t.Fatalf("got %+v; want %+v", *rl, want)
	}
}
