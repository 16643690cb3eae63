package memtrim

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

const mib = 1 << 20

// TestDue walks the trimmer through a spike, a stale collection and an
// idle worker whose returns find little.
func TestDue(t *testing.T) {
	o := Options{}.withDefaults()
	t0 := time.Unix(1000, 0)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tr := &trimmer{o: o, quiet: o.Quiet, floor: 20 * mib, gcs: 1, lastGC: t0}

	// At rest: held 1.5 times live, GCs running.
	due := func(tr *trimmer, u Usage, now time.Time) bool { ok, _ := tr.due(u, now); return ok }
	if due(tr, Usage{Held: 90 * mib, Live: 60 * mib, GCs: 2}, at(1)) {
		t.Fatal("due at rest")
	}
	// After a spike a collection found little live: return at once.
	if !due(tr, Usage{Held: 200 * mib, Live: 20 * mib, GCs: 3}, at(6)) {
		t.Fatal("not due after a spike")
	}
	tr.returned(Usage{Held: 200 * mib, GCs: 3}, Usage{Held: 25 * mib, Live: 20 * mib, GCs: 4}, false, at(6))
	// Never twice within the quiet period (while it grows: see
	// TestDueGrowth for a growth that stopped).
	if due(tr, Usage{Held: 210 * mib, Live: 20 * mib, GCs: 5}, at(8)) {
		t.Fatal("due twice within Quiet")
	}
	// The last collection ran during a spike (live is stale and high):
	// due once no collection ran for Quiet.
	tr2 := &trimmer{o: o, quiet: o.Quiet, floor: 20 * mib, gcs: 7, lastGC: at(0)}
	u := Usage{Held: 200 * mib, Live: 150 * mib, GCs: 7}
	if due(tr2, u, at(2)) {
		t.Fatal("due before the quiet period")
	}
	if !due(tr2, u, at(6)) {
		t.Fatal("not due after the quiet period")
	}
	// It was all live: the return finds little, the quiet period doubles.
	tr2.returned(u, Usage{Held: 190 * mib, Live: 150 * mib, GCs: 8}, true, at(6))
	if tr2.quiet != 2*o.Quiet {
		t.Fatalf("quiet %s after a useless return, want %s", tr2.quiet, 2*o.Quiet)
	}
	// Quiet and no growth since: the next look waits the doubled period.
	if due(tr2, Usage{Held: 190 * mib, Live: 150 * mib, GCs: 8}, at(12)) {
		t.Fatal("due before the doubled quiet period")
	}
	if !due(tr2, Usage{Held: 190 * mib, Live: 150 * mib, GCs: 8}, at(17)) {
		t.Fatal("not due after the doubled quiet period")
	}
	// It grows again: the quiet period starts over.
	tr2.returned(u, Usage{Held: 190 * mib, Live: 150 * mib, GCs: 9}, true, at(17))
	if tr2.quiet != 4*o.Quiet {
		t.Fatalf("quiet %s after two useless returns, want %s", tr2.quiet, 4*o.Quiet)
	}
	due(tr2, Usage{Held: 260 * mib, Live: 150 * mib, GCs: 9}, at(18))
	if tr2.quiet != o.Quiet {
		t.Fatalf("quiet %s after growth, want %s", tr2.quiet, o.Quiet)
	}
}

// TestDueGrowth: memory that grew by Growth (a burst of connections) is
// returned once it stops growing, not while it grows, and not again until
// it grew by Growth more.
func TestDueGrowth(t *testing.T) {
	o := Options{}.withDefaults()
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	o.Growth = 4 * mib
	tr := &trimmer{o: o, quiet: o.Quiet, floor: 10 * mib, prev: 10 * mib, gcs: 1, lastGC: t0, gap: growthGap}
	due := func(held int64, ms int) bool {
		ok, _ := tr.due(Usage{Held: held, Live: held * 2 / 3, GCs: 1}, at(ms))
		return ok
	}
	for i, held := range []int64{12 * mib, 14 * mib, 16 * mib, 18 * mib} {
		if due(held, 250*(i+1)) {
			t.Fatalf("due while growing, at %d MiB", held/mib)
		}
	}
	if due(18*mib, 1250) || !due(18*mib, 1500) {
		t.Fatal("want due once the growth stopped for growthStill, not before")
	}
	tr.returned(Usage{Held: 18 * mib, GCs: 1}, Usage{Held: 15 * mib, Live: 12 * mib, GCs: 2}, false, at(1500))
	if due(15*mib, 2750) || due(18*mib, 3000) || due(18*mib, 3500) {
		t.Fatal("due again before growing by Growth")
	}
	if due(19*mib, 3750) || due(19*mib, 4000) || !due(19*mib, 4250) {
		t.Fatal("not due after growing by Growth more")
	}
	tr.returned(Usage{Held: 19 * mib, GCs: 2}, Usage{Held: 10 * mib, Live: 8 * mib, GCs: 3}, false, at(4250))
	if tr.gap != growthGap {
		t.Fatalf("gap %s after a return that gave back 9 MiB, want %s", tr.gap, growthGap)
	}
	if due(20*mib, 4500) || due(20*mib, 5000) || !due(20*mib, 5250) {
		t.Fatal("want one return a second at most")
	}
	// It gave back little: the next one waits twice as long.
	tr.returned(Usage{Held: 20 * mib, GCs: 3}, Usage{Held: 19 * mib, Live: 15 * mib, GCs: 4}, false, at(5250))
	if tr.gap != 2*growthGap {
		t.Fatalf("gap %s after a return that gave back 1 MiB, want %s", tr.gap, 2*growthGap)
	}
	// A process that collects is not at a burst's end, however flat.
	for ms := 5500; ms <= 9000; ms += 250 {
		ok, _ := tr.due(Usage{Held: 30 * mib, Live: 20 * mib, GCs: uint64(ms)}, at(ms))
		if ok {
			t.Fatalf("due at %d ms while collections run", ms)
		}
	}
	if off := (Options{Growth: -1}).withDefaults(); off.Growth != -1 {
		t.Fatalf("Growth -1 became %d", off.Growth)
	}
}

// TestRunReturnsASpike: a real 256 MiB spike, dropped, is given back to
// the operating system within a few intervals, though no collection ran
// after it (the scavenger alone keeps it until one does).
func TestRunReturnsASpike(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { Run(ctx, Options{Interval: 10 * time.Millisecond, Quiet: 50 * time.Millisecond}) })
	defer func() { cancel(); wg.Wait() }()
	spike := make([][]byte, 256)
	for i := range spike {
		spike[i] = make([]byte, mib)
		for j := 0; j < mib; j += 4096 {
			spike[i][j] = 1 // touched: resident
		}
	}
	runtime.KeepAlive(spike)
	before := ReadUsage()
	spike = nil
	deadline := time.Now().Add(10 * time.Second)
	for {
		u := ReadUsage()
		if u.Held < before.Held-128*mib {
			t.Logf("held %d MiB at the spike, %d MiB after", before.Held/mib, u.Held/mib)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("held %d MiB at the spike, still %d MiB after 10 s", before.Held/mib, u.Held/mib)
		}
		time.Sleep(10 * time.Millisecond) // the polling period
	}
}
