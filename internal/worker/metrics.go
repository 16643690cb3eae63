package worker

import (
	"sync/atomic"
	"time"

	"github.com/wsfleet/wsfleet/internal/ctl"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// deliveryBounds are the buckets of the delivery latency histogram, in
// seconds: from half a millisecond (a broadcast on an idle host) to ten
// seconds (a bus that is far behind).
var deliveryBounds = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// latency is a histogram of delivery latencies with fixed buckets, one
// atomic add per bucket and one for the sum per observation: a bus
// message, not a connection.
type latency struct {
	counts [len(deliveryBounds) + 1]atomic.Uint64
	sumNS  atomic.Uint64
}

// observe records the latency of a message published at sent; a negative
// one (another host's clock) counts as 0.
func (l *latency) observe(sent time.Time) {
	d := max(time.Since(sent), 0)
	s := d.Seconds()
	i := 0
	for i < len(deliveryBounds) && s > deliveryBounds[i] {
		i++
	}
	l.counts[i].Add(1)
	l.sumNS.Add(uint64(d))
}

// snapshot is the histogram as the master reads it.
func (l *latency) snapshot() ctl.Histogram {
	h := ctl.Histogram{Bounds: deliveryBounds[:], Counts: make([]uint64, len(l.counts))}
	for i := range l.counts {
		h.Counts[i] = l.counts[i].Load()
	}
	h.Sum = time.Duration(l.sumNS.Load()).Seconds()
	return h
}

// metrics answers ctl.OpMetrics.
func (w *Worker) metrics() ctl.WorkerMetrics {
	st, gm := w.gw.Stats(), w.gw.Metrics()
	out := ctl.WorkerMetrics{
		PID: w.pid, Connections: st.Connections, Accepted: st.Accepted,
		MessagesIn: st.MessagesIn, MessagesOut: st.MessagesOut,
		BytesIn: gm.BytesIn, BytesOut: gm.BytesOut,
		Closed:            make(map[string]uint64),
		HandshakeFailures: make(map[string]uint64),
		SendBufferCloses:  gm.SendBufferCloses,
		RateLimitCloses:   w.budget.closes.Load(),
		BusReconnects:     w.bc.Reconnects(),
		BusConnected:      w.bc.Connected(),
		Delivery:          w.latency.snapshot(),
	}
	if w.hook != nil {
		s := w.hook.client.Stats()
		out.Webhook = map[string]uint64{"sent": s.Sent, "failed": s.Failed, "queue_full": s.QueueFull}
	}
	for i, n := range gm.Closed {
		if n > 0 {
			out.Closed[gateway.CloseCodeLabel(i)] = n
		}
	}
	for i, n := range gm.Failed {
		if n > 0 {
			out.HandshakeFailures[gateway.FailReasonLabel(gateway.FailReason(i))] = n
		}
	}
	return out
}
