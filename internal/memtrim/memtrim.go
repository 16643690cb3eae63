// Package memtrim gives a process's memory back to the operating system
// after a spike.
//
// The Go runtime keeps the heap it grew to: its background scavenger only
// returns what lies beyond the heap goal of the last collection (plus
// about 10 %), and an idle process runs no collection (but the forced one
// every two minutes) that would lower that goal. A burst of connections
// also leaves the heap at the goal of its last collection, 1.5 times the
// live heap with a worker's GOGC of 50, and its handshakes' garbage
// scattered among the connections' state (issue 16). Measured on a worker that
// echoed three 10 MiB messages: 51 MiB above its idle footprint was still
// held 60 s later (issue 10). Run watches what the runtime holds against
// the live heap and, when it holds far more, collects and returns the
// rest (debug.FreeOSMemory), rate-limited (see Options.Quiet), and once
// more each time it grew by Options.Growth and stopped growing.
package memtrim

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Options configures Run. Zero values mean the defaults.
type Options struct {
	// Interval is how often the memory is looked at. Default 100ms: a
	// burst's end is seen soon after it (Growth).
	Interval time.Duration
	// MinExcess is how much more than the live heap the runtime must hold
	// before anything is returned, in bytes. Default 32 MiB.
	MinExcess int64
	// Quiet is how long no collection must have run before one is forced
	// to learn the live heap: the last one may date from the spike. It
	// doubles, up to two minutes (the runtime's own forced collection),
	// each time such a return finds little to give back, and starts again
	// when the memory held grows. Default 5s.
	Quiet time.Duration
	// Growth is how much more than after the last return the runtime must
	// hold, and have stopped growing (neither grown nor collected for
	// 300 ms), for one return:
	// a burst of connections leaves the heap at its goal (GOGC) and its
	// handshakes' garbage in holes, which an idle worker would keep for
	// good; a return once the burst is over gives both back, and costs
	// two collections (see Run) per Growth of memory. Default 1 MiB; negative: off.
	Growth int64
	// Log receives a line per return, at debug level. Default: none.
	Log *slog.Logger
}

// growthStill is how long the memory must not grow for a return for
// growth: a pause of a burst is not its end.
const growthStill = 300 * time.Millisecond

// growthGap is the least time between two returns for growth (Growth
// bounds them too); it doubles, up to maxQuiet, each time one gives back
// less than Growth: a process whose memory swings is not collected at every
// turn.
const growthGap = time.Second

// maxQuiet bounds Options.Quiet's back-off: the runtime collects at least
// every two minutes anyway.
const maxQuiet = 2 * time.Minute

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.MinExcess <= 0 {
		o.MinExcess = 32 << 20
	}
	if o.Quiet <= 0 {
		o.Quiet = 5 * time.Second
	}
	if o.Growth == 0 {
		o.Growth = 1 << 20
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Usage is what the runtime holds from the operating system and what of it
// the last collection found live, in bytes.
type Usage struct {
	Held, Live int64
	GCs        uint64 // collections so far
}

// ReadUsage samples the runtime's metrics.
func ReadUsage() Usage {
	s := []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(s)
	return Usage{
		Held: int64(s[0].Value.Uint64() - s[1].Value.Uint64()),
		Live: int64(s[2].Value.Uint64()),
		GCs:  s[3].Value.Uint64(),
	}
}

// trimmer is Run's state.
type trimmer struct {
	o      Options
	quiet  time.Duration // the current quiet period
	floor  int64         // held after the last return
	lastGC time.Time     // when the collection count last changed
	gcs    uint64
	last   time.Time     // the last return
	prev   int64         // held at the previous sample
	rose   time.Time     // when held last grew
	gap    time.Duration // the current growth gap
	// lastGrowth is the last return for growth, which does not hold the
	// others back: one during a spike must not let the spike's end wait
	// Quiet, while the scavenger brings held below what calls for one.
	lastGrowth time.Time
	forGrowth  bool // the return due is one for growth
}

// due reports whether u, sampled at now, calls for a return, and whether it
// is one at rest; the first two kinds never twice within Options.Quiet:
//   - the runtime holds more than MinExcess beyond the live heap and more
//     than twice it (a worker holds about 1.5 times it with GOGC=50);
//   - at rest, once no collection ran for the quiet period, it holds more
//     than MinExcess: the last collection may date from a spike, so the
//     live heap it measured says nothing of now; only a collection tells;
//   - it grew by Options.Growth since the last return and stopped growing
//     (neither grown nor collected for growthStill: a process that
//     allocates collects, and its heap's swings are not a burst's end),
//     at most once per growth gap.
func (t *trimmer) due(u Usage, now time.Time) (ok, atRest bool) {
	if u.Held > t.prev {
		t.rose = now
	}
	t.prev = u.Held
	if u.GCs != t.gcs {
		t.gcs, t.lastGC = u.GCs, now
	}
	grown := t.o.Growth > 0 && u.Held >= t.floor+t.o.Growth &&
		now.Sub(t.rose) >= growthStill && now.Sub(t.lastGC) >= growthStill
	if u.Held > t.floor+t.o.MinExcess {
		t.quiet = t.o.Quiet // it grew: look again soon
	}
	t.forGrowth = false
	if now.Sub(t.last) >= t.o.Quiet {
		if excess := u.Held - u.Live; excess > t.o.MinExcess && excess > u.Live {
			return true, false
		}
		atRest = now.Sub(t.lastGC) >= t.quiet
		if atRest && u.Held > t.o.MinExcess {
			return true, true
		}
	}
	t.forGrowth = grown && now.Sub(t.lastGrowth) >= t.gap
	return t.forGrowth, atRest
}

// returned records a return that took held from before to after. When one
// at rest found little to give back (what is held is live), the next waits
// twice as long, up to two minutes, so that a large idle worker is not
// collected over and over; growth starts the wait over.
func (t *trimmer) returned(before, after Usage, atRest bool, now time.Time) {
	t.gcs, t.lastGC, t.floor = after.GCs, now, after.Held
	if t.forGrowth {
		t.lastGrowth = now
		if before.Held-after.Held < t.o.Growth {
			t.gap = min(2*t.gap, maxQuiet)
		} else {
			t.gap = growthGap
		}
		return
	}
	t.last = now
	switch {
	case !atRest:
	case before.Held-after.Held < t.o.MinExcess/2:
		t.quiet = min(2*t.quiet, maxQuiet)
	default:
		t.quiet = t.o.Quiet
	}
}

// Run watches the memory until ctx ends.
func Run(ctx context.Context, o Options) {
	o = o.withDefaults()
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	u := ReadUsage()
	t := &trimmer{o: o, quiet: o.Quiet, floor: u.Held, gcs: u.GCs, lastGC: time.Now(), prev: u.Held, gap: growthGap}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			u := ReadUsage()
			ok, atRest := t.due(u, now)
			if !ok {
				continue
			}
			// Twice: the first collection only moves what sync.Pools
			// hold into their victim caches, the second frees it (a
			// 10 MiB message leaves 160 read chunks of 64 KiB pooled,
			// which an idle worker otherwise held until the runtime's
			// forced collection two minutes later).
			debug.FreeOSMemory()
			debug.FreeOSMemory()
			after := ReadUsage()
			t.returned(u, after, atRest, now)
			o.Log.Debug("memory returned", "held_before", u.Held, "held_after", after.Held, "live", after.Live, "next_quiet", t.quiet)
		}
	}
}
