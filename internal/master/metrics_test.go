package master

import (
	"testing"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// TestRetiredWorkersKeepTheirTotals: a worker gone from the table has its
// last figures added to its slot's base, so the slot's counters never go
// back when its replacement starts from zero.
func TestRetiredWorkersKeepTheirTotals(t *testing.T) {
	h := func(counts ...uint64) ctl.Histogram {
		return ctl.Histogram{Bounds: []float64{0.1, 1}, Counts: counts, Sum: 0.5}
	}
	st := metricsState{last: map[int]seen{}, base: map[int]*figures{}}
	st.last[10] = seen{slot: 0, f: figures{msgsIn: 5, closed: map[string]uint64{"1000": 2}, delivery: h(1, 2, 0)}}
	st.last[11] = seen{slot: 1, f: figures{msgsIn: 7}}
	st.retireLocked(map[int]bool{11: true})
	if _, ok := st.last[10]; ok || len(st.last) != 1 {
		t.Fatalf("last after retiring 10: %v", st.last)
	}
	b := st.base[0]
	if b == nil || b.msgsIn != 5 || b.closed["1000"] != 2 || b.delivery.Counts[1] != 2 {
		t.Fatalf("slot 0's base %+v", b)
	}
	// A second worker of the slot retires: the base adds up.
	st.last[12] = seen{slot: 0, f: figures{msgsIn: 1, closed: map[string]uint64{"1000": 1, "4xxx": 3}, delivery: h(0, 1, 1)}}
	st.retireLocked(map[int]bool{11: true})
	if b.msgsIn != 6 || b.closed["1000"] != 3 || b.closed["4xxx"] != 3 || b.delivery.Counts[2] != 1 || b.delivery.Sum != 1 {
		t.Fatalf("slot 0's base after two retirements %+v", b)
	}
	// Other bounds (a new binary) are left out rather than mixed in.
	b.add(figures{delivery: ctl.Histogram{Bounds: []float64{2}, Counts: []uint64{9, 9}}})
	if b.delivery.Counts[0] != 1 || len(b.delivery.Counts) != 3 {
		t.Fatalf("histogram with other bounds was mixed in: %+v", b.delivery)
	}
}
