package master

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wsfleet/wsfleet/internal/admin"
)

// metricsInFlight bounds the scrapes served at once: each asks every
// worker, and a caller looping on /metrics must not multiply that.
const metricsInFlight = 2

// mountMetrics mounts /metrics (issue 13): the workers' figures, gathered
// by the master at each scrape (metricsCollector), and the master's own Go
// runtime and process metrics, from a registry of this master's own.
func (m *Master) mountMetrics(s *admin.Server) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newMetricsCollector(m),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	s.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:            slogPrinter{m},
		MaxRequestsInFlight: metricsInFlight,
		Timeout:             3 * statusTimeout,
	}))
}

// slogPrinter is promhttp's error log, on the master's logger.
type slogPrinter struct{ m *Master }

func (p slogPrinter) Println(v ...any) { p.m.log.Warn("metrics", "err", v) }
