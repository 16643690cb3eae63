package master

import (
	"context"
	"sort"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// metricsCollector is the master's prometheus.Collector: each Collect is
// one scrape of the workers (scrapeWorkers), emitted as const metrics with
// a worker label (the slot; "master" for the master's own bus).
type metricsCollector struct {
	m *Master

	connections, accepted, closed, failed       *prometheus.Desc
	msgsIn, msgsOut, bytesIn, bytesOut          *prometheus.Desc
	sendBufCloses, rateLimitCloses, delivery    *prometheus.Desc
	busReconnects, busConnected, restarts       *prometheus.Desc
	reloads, reloadsFailed, scrapeErrors, slots *prometheus.Desc
	webhook                                     *prometheus.Desc
}

func newMetricsCollector(m *Master) *metricsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("wsfleet_"+name, help, labels, nil)
	}
	w := "worker"
	return &metricsCollector{
		m:               m,
		connections:     d("connections", "Open WebSocket connections.", w),
		accepted:        d("connections_accepted_total", "TCP connections accepted on the WebSocket port.", w),
		closed:          d("connections_closed_total", "WebSocket connections ended, by close code (1000-1015, 4xxx, other; 1006: no close frame).", w, "code"),
		failed:          d("handshake_failures_total", "Upgrades refused or failed, by reason.", w, "reason"),
		msgsIn:          d("messages_in_total", "WebSocket messages received from clients.", w),
		msgsOut:         d("messages_out_total", "WebSocket messages queued to clients.", w),
		bytesIn:         d("bytes_in_total", "WebSocket bytes (frames) read from clients.", w),
		bytesOut:        d("bytes_out_total", "WebSocket bytes (frames) written to clients.", w),
		sendBufCloses:   d("send_buffer_closes_total", "Connections closed with 1008 because their send buffer was full.", w),
		rateLimitCloses: d("rate_limit_closes_total", "Connections closed with 1013 for sending faster than the application takes their messages.", w),
		delivery:        d("broadcast_delivery_seconds", "Time from a broadcast's publication on the bus to its write to a worker's sockets.", w),
		busReconnects:   d("bus_reconnects_total", "Reconnections to NATS, by process (a worker slot, or master).", w),
		busConnected:    d("bus_connected", "1 when the process is connected to NATS.", w),
		restarts:        d("worker_restarts_total", "Workers restarted by the master after they died.", w),
		reloads:         d("reloads_total", "Reloads (all workers replaced) asked for."),
		reloadsFailed:   d("reloads_failed_total", "Reloads that failed."),
		scrapeErrors:    d("scrape_errors_total", "Scrapes a worker did not answer in time.", w),
		slots:           d("workers", "Worker slots configured (-count)."),
		webhook:         d("webhook_events_total", "-webhook events, by result: sent (answered), failed (unreachable, timeout, non-2xx, bad answer), queue_full (refused).", w, "result"),
	}
}

// Describe sends every metric's descriptor.
func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.connections, c.accepted, c.closed, c.failed, c.msgsIn, c.msgsOut, c.bytesIn, c.bytesOut,
		c.sendBufCloses, c.rateLimitCloses, c.delivery, c.busReconnects, c.busConnected, c.restarts,
		c.reloads, c.reloadsFailed, c.scrapeErrors, c.slots, c.webhook,
	} {
		ch <- d
	}
}

// Collect scrapes the workers and sends their figures, per slot.
func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	fm := c.m.scrapeWorkers(context.Background()) // bounded: statusTimeout per worker, all at once
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	slots := make([]int, 0, len(fm.slots))
	for s := range fm.slots {
		slots = append(slots, s)
	}
	sort.Ints(slots)
	for _, s := range slots {
		sf, w := fm.slots[s], strconv.Itoa(s)
		f := &sf.f
		gauge(c.connections, float64(sf.connections), w)
		counter(c.accepted, f.accepted, w)
		counter(c.msgsIn, f.msgsIn, w)
		counter(c.msgsOut, f.msgsOut, w)
		counter(c.bytesIn, f.bytesIn, w)
		counter(c.bytesOut, f.bytesOut, w)
		counter(c.sendBufCloses, f.sendBufCloses, w)
		counter(c.rateLimitCloses, f.rateLimitCloses, w)
		counter(c.busReconnects, f.busReconnects, w)
		counter(c.restarts, uint64(sf.restarts), w)
		counter(c.scrapeErrors, fm.scrapeErrors[s], w)
		gauge(c.busConnected, b2f(sf.busUp), w)
		for code, n := range f.closed {
			counter(c.closed, n, w, code)
		}
		for reason, n := range f.failed {
			counter(c.failed, n, w, reason)
		}
		for result, n := range f.webhook {
			counter(c.webhook, n, w, result)
		}
		if h := f.delivery; len(h.Counts) == len(h.Bounds)+1 {
			buckets := make(map[float64]uint64, len(h.Bounds))
			var cum uint64
			for i, b := range h.Bounds {
				cum += h.Counts[i]
				buckets[b] = cum
			}
			cum += h.Counts[len(h.Bounds)]
			ch <- prometheus.MustNewConstHistogram(c.delivery, cum, h.Sum, buckets, w)
		}
	}
	counter(c.busReconnects, c.m.bus.Reconnects(), "master")
	gauge(c.busConnected, b2f(c.m.bus.Connected()), "master")
	counter(c.reloads, c.m.reloads.Load())
	counter(c.reloadsFailed, c.m.reloadsFailed.Load())
	gauge(c.slots, float64(c.m.opts.Count))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
