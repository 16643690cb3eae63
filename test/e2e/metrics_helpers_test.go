package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one parsed /metrics answer.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics GETs /metrics on an admin listener and parses the
// exposition format, failing the test on any error.
func scrapeMetrics(t testing.TB, addr string) scrape {
	t.Helper()
	s, err := tryScrape(addr)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tryScrape(addr string) (scrape, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	return scrape(fams), nil
}

// labelsMatch reports whether m has every label of want (name, value
// pairs).
func labelsMatch(m *dto.Metric, want ...string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == want[i] && l.GetValue() == want[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// sum adds up the samples of name (a counter or a gauge) whose labels
// include want; a histogram's sample is its count.
func (s scrape) sum(name string, want ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	var v float64
	for _, m := range f.GetMetric() {
		if !labelsMatch(m, want...) {
			continue
		}
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Histogram != nil:
			v += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return v
}

// labelValues lists the values label takes in name's samples.
func (s scrape) labelValues(name, label string) []string {
	var out []string
	if f := s[name]; f != nil {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// mustHave fails unless every name is in s.
func (s scrape) mustHave(t testing.TB, names ...string) {
	t.Helper()
	var missing []string
	for _, n := range names {
		if s[n] == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("/metrics lacks %s", strings.Join(missing, ", "))
	}
}

// moved checks that name (with labels want) moved by exactly by between
// two scrapes.
func moved(t testing.TB, before, after scrape, by float64, name string, want ...string) {
	t.Helper()
	if d := after.sum(name, want...) - before.sum(name, want...); d != by {
		t.Errorf("%s%v moved by %v, want %v", name, want, d, by)
	}
}
