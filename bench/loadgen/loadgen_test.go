package main

import (
	"net"
	"slices"
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	r, ns, ok := parseStamp(stampPayload(7, at))
	if !ok || r != 7 || ns != at.UnixNano() {
		t.Fatalf("parseStamp = %d, %d, %v; want 7, %d, true", r, ns, ok, at.UnixNano())
	}
	for _, bad := range []string{"", "B", "B 1", "B x 2", "hello B 1 2", "你好!"} {
		if _, _, ok := parseStamp([]byte(bad)); ok {
			t.Errorf("parseStamp(%q) accepted", bad)
		}
	}
}

func TestSpreadOf(t *testing.T) {
	lat := []int64{4000, 1000, 3000, 2000} // µs, unsorted
	s := spreadOf(slices.Clone(lat), 4)
	if s.P50MS != 2 || s.P100MS != 4 || s.Delivered != 4 {
		t.Errorf("all delivered: %+v", s)
	}
	s = spreadOf(slices.Clone(lat), 5) // one connection never got it
	if s.P100MS != -1 || s.P50MS != 3 || s.CDFMS[len(s.CDFMS)-1] != -1 {
		t.Errorf("one missing: p50 %v p100 %v", s.P50MS, s.P100MS)
	}
}

func TestHistQuantiles(t *testing.T) {
	h := newHist()
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Millisecond)
	}
	for _, c := range []struct{ q, want float64 }{{0.5, 500}, {0.99, 990}, {1, 1000}} {
		if got := h.QuantileMS(c.q); got < c.want*0.97 || got > c.want*1.03 {
			t.Errorf("q%v = %v ms, want %v ± 3 %%", c.q, got, c.want)
		}
	}
	o := newHist()
	o.Add(5 * time.Second)
	h.Merge(o)
	if h.Count != 1001 || h.QuantileMS(1) != 5000 {
		t.Errorf("after merge: count %d max %v", h.Count, h.QuantileMS(1))
	}
}

func TestPushTally(t *testing.T) {
	ms := int64(time.Millisecond)
	ticks := []int64{1000 * ms, 2000 * ms}
	recv := [][]int64{
		{1010 * ms, 2020 * ms},            // both
		{1500 * ms},                       // the second is missing
		{990 * ms, 3500 * ms},             // early by less than the skew; the second later than the next tick
		{500 * ms, 1001 * ms, 2100 * ms},  // one older tick first
		{1005 * ms, 2005 * ms, 3000 * ms}, // and the next tick after the window
	}
	rep := pushTally(recv, ticks)
	if rep.Ticks[0].Delivered != 5 || rep.Ticks[1].Delivered != 4 {
		t.Errorf("delivered %d, %d; want 5, 4", rep.Ticks[0].Delivered, rep.Ticks[1].Delivered)
	}
	if rep.MissedConns != 1 || rep.Extra != 2 {
		t.Errorf("missed %d extra %d; want 1, 2", rep.MissedConns, rep.Extra)
	}
	if rep.Ticks[1].Hist.MaxUS != 1500_000 {
		t.Errorf("slowest second tick %d µs; want 1,500,000", rep.Ticks[1].Hist.MaxUS)
	}
	if n := pushCount(recv, ticks); n != 4 {
		t.Errorf("pushCount = %d; want 4", n)
	}
	if f := pushFirsts(recv, ticks); f[0] != 990*ms || f[1] != 2005*ms {
		t.Errorf("firsts %v", f)
	}
}

func TestSources(t *testing.T) {
	p := fleetPlan{Conns: 50000, PerSource: 15000, FirstSource: net.ParseIP("127.3.0.254")}
	got, err := p.sources()
	want := []string{"127.3.0.254", "127.3.0.255", "127.3.1.0", "127.3.1.1"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("sources = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"10.0.0.1", "127.255.255.255"} {
		p.FirstSource = net.ParseIP(bad)
		if _, err := p.sources(); err == nil {
			t.Errorf("sources from %s: no error", bad)
		}
	}
}

// TestChatText: a said message's text gives back what was put in it, and
// any other text is not the benchmark's.
func TestChatText(t *testing.T) {
	at := time.Unix(1700000000, 123456789)
	ph, s, seq, ns, ok := parseChatText(chatText('m', 3, 42, at))
	if !ok || ph != 'm' || s != 3 || seq != 42 || ns != at.UnixNano() {
		t.Fatalf("got %c %d %d %d %v", ph, s, seq, ns, ok)
	}
	for _, bad := range []string{"", "hello", "mm 1 2 3", "m 1 2"} {
		if _, _, _, _, ok := parseChatText(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
