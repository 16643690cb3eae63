package master

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
)

// The master's side of /metrics (issue 13): each scrape asks every worker
// for its counters (ctl.OpMetrics, within statusTimeout each, all at once)
// and adds them up per slot.
//
// Counters must not go backwards when a worker is replaced (a reload, a
// crash): its replacement starts from zero. So the master keeps each
// worker's last answer, and when a worker ends adds its figures to its
// slot's base, which every later figure of the slot starts from: the final
// figures a stopping worker sends (finalMetrics), exact to its last close,
// or, for a worker that crashed, its last answer, from the last scrape:
// what it counted since is lost, and a counter then moves less than it
// should, never back. A worker that does
// not answer a scrape is counted in wsfleet_scrape_errors_total and shows
// its last answer.

// figures are a worker's counters, or a sum of them.
type figures struct {
	accepted, msgsIn, msgsOut, bytesIn, bytesOut  uint64
	sendBufCloses, rateLimitCloses, busReconnects uint64
	closed, failed, webhook                       map[string]uint64
	delivery                                      ctl.Histogram
}

func figuresOf(a ctl.WorkerMetrics) figures {
	return figures{
		accepted: a.Accepted, msgsIn: a.MessagesIn, msgsOut: a.MessagesOut,
		bytesIn: a.BytesIn, bytesOut: a.BytesOut,
		sendBufCloses: a.SendBufferCloses, rateLimitCloses: a.RateLimitCloses, busReconnects: a.BusReconnects,
		closed: a.Closed, failed: a.HandshakeFailures, webhook: a.Webhook, delivery: a.Delivery,
	}
}

// add adds o to f. Histograms with other bounds than f's (a new binary
// after a reload that changed them) are left out of the sum.
func (f *figures) add(o figures) {
	f.accepted += o.accepted
	f.msgsIn += o.msgsIn
	f.msgsOut += o.msgsOut
	f.bytesIn += o.bytesIn
	f.bytesOut += o.bytesOut
	f.sendBufCloses += o.sendBufCloses
	f.rateLimitCloses += o.rateLimitCloses
	f.busReconnects += o.busReconnects
	f.closed = addCounts(f.closed, o.closed)
	f.failed = addCounts(f.failed, o.failed)
	f.webhook = addCounts(f.webhook, o.webhook)
	switch {
	case len(o.delivery.Counts) == 0:
	case len(f.delivery.Counts) == 0:
		f.delivery = ctl.Histogram{Bounds: o.delivery.Bounds, Counts: slices.Clone(o.delivery.Counts), Sum: o.delivery.Sum}
	case slices.Equal(f.delivery.Bounds, o.delivery.Bounds) && len(f.delivery.Counts) == len(o.delivery.Counts):
		for i, n := range o.delivery.Counts {
			f.delivery.Counts[i] += n
		}
		f.delivery.Sum += o.delivery.Sum
	}
}

func addCounts(to, from map[string]uint64) map[string]uint64 {
	if len(from) == 0 {
		return to
	}
	if to == nil {
		to = make(map[string]uint64, len(from))
	}
	for k, n := range from {
		to[k] += n
	}
	return to
}

// seen is a worker's last answer.
type seen struct {
	slot        int
	connections int
	busUp       bool
	f           figures
}

// slotFigures are one slot's figures in a scrape: its workers' (current and
// draining) plus the base of the ones that are gone.
type slotFigures struct {
	connections int
	restarts    int
	busUp       bool // every answering worker of the slot is connected to the bus
	f           figures
}

// fleetMetrics is what one scrape found.
type fleetMetrics struct {
	slots        map[int]*slotFigures
	scrapeErrors map[int]uint64 // by slot, since the master started
}

// metricsState is the master's memory between scrapes. mu is held for a
// whole scrape: scrapes run one at a time.
type metricsState struct {
	mu           sync.Mutex
	last         map[int]seen     // by pid
	base         map[int]*figures // by slot
	scrapeErrors map[int]uint64   // by slot
}

// scrapeWorkers asks every worker for its counters and returns the sums
// per slot, retiring the workers that are gone.
func (m *Master) scrapeWorkers(ctx context.Context) fleetMetrics {
	st := &m.metrics
	st.mu.Lock()
	defer st.mu.Unlock()
	st.initLocked()
	refs := m.children()
	out := fleetMetrics{slots: map[int]*slotFigures{}, scrapeErrors: st.scrapeErrors}
	live := map[int]bool{}
	for _, r := range refs {
		if out.slots[r.slot] == nil {
			out.slots[r.slot] = &slotFigures{restarts: r.restarts, busUp: true}
		}
		if r.proc != nil {
			live[r.pid] = true
		}
	}
	st.retireLocked(live)
	answers := make([]*ctl.WorkerMetrics, len(refs))
	silent := make([]bool, len(refs))
	var wg sync.WaitGroup
	for i, r := range refs {
		if r.proc == nil {
			continue
		}
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, statusTimeout)
			defer cancel()
			var a ctl.WorkerMetrics
			err := r.proc.Call(cctx, ctl.OpMetrics, nil, &a)
			switch {
			case err == nil:
				answers[i] = &a
			case exited(r.proc) || errors.Is(err, ctl.ErrClosed):
				// It ended meanwhile: its last answer stays until the next
				// scrape retires it.
			default:
				m.log.Warn("metrics: worker did not answer", "worker", r.slot, "pid", r.pid, "err", err)
				silent[i] = true
			}
		})
	}
	wg.Wait()
	for i, a := range answers {
		if silent[i] {
			st.scrapeErrors[refs[i].slot]++
		}
		if a != nil {
			r := refs[i]
			st.last[r.pid] = seen{slot: r.slot, connections: a.Connections, busUp: a.BusConnected, f: figuresOf(*a)}
		}
	}
	for slot, b := range st.base {
		sf := out.slot(slot)
		sf.f.add(*b)
	}
	for _, s := range st.last {
		sf := out.slot(s.slot)
		sf.connections += s.connections
		sf.busUp = sf.busUp && s.busUp
		sf.f.add(s.f)
	}
	return out
}

// slot is the figures of a slot, made on first use.
func (fm fleetMetrics) slot(i int) *slotFigures {
	if fm.slots[i] == nil {
		fm.slots[i] = &slotFigures{busUp: true}
	}
	return fm.slots[i]
}

// finalWait bounds how long the master reads an exited worker's last
// events for its final figures.
const finalWait = time.Second

// finalMetrics reads the final figures an exited worker sent
// (ctl.EventMetrics) and retires it with them at once: they are exact to its
// last close, where its last scrape may be older. A worker that crashed
// sent none and is retired with its last scrape's figures.
func (m *Master) finalMetrics(c *execProcess) {
	t := time.NewTimer(finalWait)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-c.ctl.Events():
			if !ok {
				return
			}
			if ev.Name != ctl.EventMetrics {
				continue
			}
			var a ctl.WorkerMetrics
			if err := json.Unmarshal(ev.Data, &a); err != nil {
				m.log.Warn("metrics: a worker's final figures", "worker", c.slot, "pid", c.pid, "err", err)
				return
			}
			m.metrics.retire(c.pid, c.slot, figuresOf(a))
			return
		case <-t.C:
			return
		}
	}
}

// retire adds a worker's final figures to its slot's base and forgets it.
func (st *metricsState) retire(pid, slot int, f figures) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.initLocked()
	delete(st.last, pid)
	st.baseLocked(slot).add(f)
}

// initLocked makes the maps on first use. st.mu is held.
func (st *metricsState) initLocked() {
	if st.last == nil {
		st.last, st.base, st.scrapeErrors = map[int]seen{}, map[int]*figures{}, map[int]uint64{}
	}
}

// baseLocked is slot's base, made on first use. st.mu is held.
func (st *metricsState) baseLocked(slot int) *figures {
	b := st.base[slot]
	if b == nil {
		b = &figures{}
		st.base[slot] = b
	}
	return b
}

// retireLocked adds the last answer of every worker that is not live any
// more to its slot's base. st.mu is held.
func (st *metricsState) retireLocked(live map[int]bool) {
	for pid, s := range st.last {
		if live[pid] {
			continue
		}
		st.baseLocked(s.slot).add(s.f)
		delete(st.last, pid)
	}
}
