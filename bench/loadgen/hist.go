package main

import (
	"math"
	"slices"
	"time"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// histGrowth is the ratio between neighbouring histogram buckets: values are
// kept to within 2 %, which is finer than run-to-run noise.
const histGrowth = 1.02

// Hist is a log-bucketed latency histogram in microseconds. Histograms from
// several client processes merge by adding their buckets.
type Hist struct {
	Buckets map[int]uint64 `json:"buckets"`
	Count   uint64         `json:"count"`
	MaxUS   int64          `json:"max_us"`
}

func newHist() *Hist { return &Hist{Buckets: make(map[int]uint64)} }

func bucketOf(us int64) int {
	if us < 1 {
		return 0
	}
	return int(math.Log(float64(us))/math.Log(histGrowth)) + 1
}

// bucketUS is the middle of bucket b, in microseconds.
func bucketUS(b int) float64 {
	if b == 0 {
		return 0
	}
	lo := math.Pow(histGrowth, float64(b-1))
	return lo * (1 + histGrowth) / 2
}

// Add records one duration.
func (h *Hist) Add(d time.Duration) {
	us := d.Microseconds()
	h.Buckets[bucketOf(us)]++
	h.Count++
	h.MaxUS = max(h.MaxUS, us)
}

// Merge adds o's counts to h.
func (h *Hist) Merge(o *Hist) {
	for b, n := range o.Buckets {
		h.Buckets[b] += n
	}
	h.Count += o.Count
	h.MaxUS = max(h.MaxUS, o.MaxUS)
}

// QuantileMS is the q-quantile (0..1) in milliseconds; q = 1 is the exact
// maximum.
func (h *Hist) QuantileMS(q float64) float64 {
	if h.Count == 0 {
		return 0
	}
	if q >= 1 {
		return float64(h.MaxUS) / 1000
	}
	keys := make([]int, 0, len(h.Buckets))
	for b := range h.Buckets {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	rank := uint64(math.Ceil(q * float64(h.Count)))
	var seen uint64
	for _, b := range keys {
		seen += h.Buckets[b]
		if seen >= rank {
			return math.Min(bucketUS(b), float64(h.MaxUS)) / 1000
		}
	}
	return float64(h.MaxUS) / 1000
}

// cdfPoints is how many points a spread's CDF keeps.
const cdfPoints = 201

// spreadOf computes the spread of latencies (microseconds) of delivered
// messages out of n connections.
func spreadOf(latUS []int64, n int) record.Spread {
	slices.Sort(latUS)
	s := record.Spread{Connections: n, Delivered: len(latUS)}
	at := func(q float64) float64 {
		if n == 0 {
			return 0
		}
		i := int(math.Ceil(q*float64(n))) - 1
		i = max(i, 0)
		if i >= len(latUS) {
			return -1
		}
		return float64(latUS[i]) / 1000
	}
	s.P50MS, s.P99MS, s.P100MS = at(0.5), at(0.99), at(1)
	s.CDFMS = make([]float64, cdfPoints)
	for i := range s.CDFMS {
		s.CDFMS[i] = at(float64(i) / float64(cdfPoints-1))
	}
	return s
}
