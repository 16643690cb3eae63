package main

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// A broadcast's payload is "B <round> <unix ns at publish>", so every
// receiver, in whichever client process, computes its own delay on the one
// machine clock.
func stampPayload(round int, at time.Time) []byte {
	return fmt.Appendf(nil, "B %d %d", round, at.UnixNano())
}

func parseStamp(p []byte) (round int, unixNS int64, ok bool) {
	rest, found := bytes.CutPrefix(p, []byte("B "))
	if !found {
		return 0, 0, false
	}
	r, ns, found := bytes.Cut(rest, []byte(" "))
	if !found {
		return 0, 0, false
	}
	round, err1 := strconv.Atoi(string(r))
	unixNS, err2 := strconv.ParseInt(string(ns), 10, 64)
	return round, unixNS, err1 == nil && err2 == nil
}

// tickSkew is how much earlier than the coordinator's own copy of a push a
// client may see it: the coordinator is one more NATS subscriber, not the
// publisher.
const tickSkew = int64(50 * time.Millisecond)

// pushReport tallies, for one client process, which pushes each connection
// received.
type pushReport struct {
	Conns       int          `json:"conns"`
	Ticks       []tickReport `json:"ticks"`
	MissedConns int          `json:"missed_conns"` // connections that missed at least one tick
	Extra       int          `json:"extra"`        // receipts of ticks outside the window
	ReadLate    int          `json:"read_late"`    // messages read over 1 s after the kernel received them
	Doubled     int          `json:"doubled"`      // receipts in the window beyond the ticks
	// Gaps holds, per connection with two receipts in the window or more,
	// its longest gap between consecutive ones.
	Gaps *Hist `json:"gaps"`
}

type tickReport struct {
	Delivered int   `json:"delivered"`
	Hist      *Hist `json:"hist"` // delay after the tick's time
}

// Pushes reach a connection in the order they were published (one NATS
// subscription per worker, one writer per connection), so a connection's
// receipts since the first tick of the window are ticks 1, 2, … in turn,
// however late each is. Receipts earlier than the first tick (less the skew)
// are older ticks. The tally therefore does not depend on each tick arriving
// before the next is published.
func inWindow(rs []int64, ticks []int64) []int64 {
	i := sort.Search(len(rs), func(j int) bool { return rs[j] >= ticks[0]-tickSkew })
	return rs[i:]
}

// pushCount is how many connections have had every tick.
func pushCount(recv [][]int64, ticks []int64) int {
	n := 0
	for _, rs := range recv {
		if len(inWindow(rs, ticks)) >= len(ticks) {
			n++
		}
	}
	return n
}

// pushFirsts is, per tick, its earliest receipt (0 for none).
func pushFirsts(recv [][]int64, ticks []int64) []int64 {
	first := make([]int64, len(ticks))
	for _, rs := range recv {
		w := inWindow(rs, ticks)
		for k := range min(len(w), len(ticks)) {
			if first[k] == 0 || w[k] < first[k] {
				first[k] = w[k]
			}
		}
	}
	return first
}

// pushTally counts, per tick (unix ns, ascending), the connections that got
// it and their delays; recv holds each connection's receipt times in order.
func pushTally(recv [][]int64, ticks []int64) *pushReport {
	rep := &pushReport{Conns: len(recv), Ticks: make([]tickReport, len(ticks)), Gaps: newHist()}
	for k := range rep.Ticks {
		rep.Ticks[k].Hist = newHist()
	}
	for _, rs := range recv {
		w := inWindow(rs, ticks)
		rep.Extra += len(rs) - len(w) + max(len(w)-len(ticks), 0)
		rep.Doubled += max(len(w)-len(ticks), 0)
		if g, ok := longestGap(w); ok {
			rep.Gaps.Add(time.Duration(g))
		}
		if len(w) < len(ticks) {
			rep.MissedConns++
		}
		for k := range min(len(w), len(ticks)) {
			rep.Ticks[k].Delivered++
			rep.Ticks[k].Hist.Add(time.Duration(max(w[k]-ticks[k], 0)))
		}
	}
	return rep
}

// longestGap is the longest time between two consecutive receipts (unix
// ns, ascending); false for fewer than two.
func longestGap(rs []int64) (int64, bool) {
	if len(rs) < 2 {
		return 0, false
	}
	var g int64
	for i := 1; i < len(rs); i++ {
		g = max(g, rs[i]-rs[i-1])
	}
	return g, true
}
