package lbprom_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// fast is the subscription pace of the tests: the event counters trail
// the pools by a millisecond or so.
var fast = lbprom.WithSubscribeOptions(lbSubscribeFast)

// waitLimit bounds every wait for a scrape to show something.
const waitLimit = 10 * time.Second

// scraper serves a pedantic prometheus registry (it checks every collected
// metric against its description) with promhttp on 127.0.0.1 and scrapes it
// with net/http.
type scraper struct {
	t   *testing.T
	url string
}

// serve registers c with a new pedantic registry, serves it, and closes c
// and the server when the test ends.
func serve(t *testing.T, c *lbprom.Collector) *scraper {
	t.Helper()
	t.Cleanup(c.Close) // after the server's Close, registered later
	return serveAll(t, c)
}

// serveAll registers cs with a new pedantic registry, serves it, and
// closes the server when the test ends.
func serveAll(t *testing.T, cs ...prometheus.Collector) *scraper {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatalf("Register: %v", err)
		}
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(srv.Close)
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("server at %s, want 127.0.0.1", srv.URL)
	}
	return &scraper{t: t, url: srv.URL + "/metrics"}
}

// families is one parsed scrape.
type families map[string]*dto.MetricFamily

// scrape fetches and parses the text exposition format.
func (s *scraper) scrape() families {
	s.t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		s.t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("scrape: %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		s.t.Fatalf("scrape: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// get returns the value of the series name{labels} ("k=v" pairs), and
// whether the scrape has it.
func (f families) get(name string, labels ...string) (float64, bool) {
	fam, ok := f[name]
	if !ok {
		return 0, false
	}
	want := map[string]string{}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		want[k] = v
	}
	for _, m := range fam.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, lp := range m.GetLabel() {
			if v, ok := want[lp.GetName()]; !ok || v != lp.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch fam.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// series lists the label sets of name's series that have label=value, as
// sorted strings.
func (f families) series(name, label, value string) []string {
	var out []string
	for _, m := range f[name].GetMetric() {
		var parts []string
		hit := false
		for _, lp := range m.GetLabel() {
			parts = append(parts, lp.GetName()+"="+lp.GetValue())
			if lp.GetName() == label && lp.GetValue() == value {
				hit = true
			}
		}
		if hit {
			out = append(out, strings.Join(parts, ","))
		}
	}
	sort.Strings(out)
	return out
}

// want is one expected series value.
type want struct {
	name   string
	labels []string
	value  float64
}

func (w want) String() string {
	return fmt.Sprintf("%s{%s} = %g", w.name, strings.Join(w.labels, ","), w.value)
}

// waitFor scrapes until every expectation holds, for at most waitLimit,
// and fails the test with the last scrape's values if they never do.
func (s *scraper) waitFor(ws ...want) families {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		f := s.scrape()
		var wrong []string
		for _, w := range ws {
			if v, ok := f.get(w.name, w.labels...); !ok || v != w.value {
				wrong = append(wrong, fmt.Sprintf("want %v, have %g (present %v)", w, v, ok))
			}
		}
		if len(wrong) == 0 {
			return f
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after %v:\n%s", waitLimit, strings.Join(wrong, "\n"))
		}
		time.Sleep(time.Millisecond)
	}
}

// waitUntil scrapes until cond holds, for at most waitLimit.
func (s *scraper) waitUntil(what string, cond func(families) bool) families {
	s.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		f := s.scrape()
		if cond(f) {
			return f
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after %v: never %s", waitLimit, what)
		}
		time.Sleep(time.Millisecond)
	}
}
