package lbprom_test

import (
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Each endpoint's load weight is scraped as EndpointStatus.LoadWeight
// reads it once weights are in force: its own from its reports, the
// others' mean for one without; a pool without LoadWeights, and one whose
// endpoints have not reported, have no series of it.
func TestLoadWeightIsScraped(t *testing.T) {
	const addrC = "10.0.0.3:80"
	reg := lb.NewRegistry()
	weighed, err := reg.Ensure("weighed", lb.Config{Policy: lb.WeightedRoundRobin, LoadWeights: lb.LoadWeights{
		Enabled: true, BlackoutPeriod: time.Millisecond, UpdatePeriod: 100 * time.Millisecond}}, addrA, addrB, addrC)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(weighed.Close) // stops the weigher
	quiet, err := reg.Ensure("quiet", lb.Config{Policy: lb.WeightedRoundRobin, LoadWeights: lb.LoadWeights{Enabled: true}}, addrA, addrB)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(quiet.Close)
	if _, err := reg.Ensure("static", lb.Config{Policy: lb.WeightedRoundRobin}, addrA, addrB); err != nil {
		t.Fatal(err)
	}
	c, err := lbprom.NewCollector(reg, fast, lbprom.WithPools("weighed", "quiet", "static"))
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, c)
	capacity := map[string]float64{addrA: 100, addrB: 300}
	for reported := map[string]bool{}; len(reported) < 2; {
		l, err := weighed.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if rps, ok := capacity[l.Endpoint()]; ok {
			l.ReportLoad(lb.Load{RPS: rps / 2, CPUUtilization: 0.5})
			reported[l.Endpoint()] = true
		}
		l.Done(nil)
	}
	f := s.waitFor(
		want{"nanolb_endpoint_load_weight", ep("weighed", addrA), 100},
		want{"nanolb_endpoint_load_weight", ep("weighed", addrB), 300},
		want{"nanolb_endpoint_load_weight", ep("weighed", addrC), 200}, // the mean
		want{"nanolb_endpoint_in_flight", ep("static", addrA), 0},      // the other pools are scraped
		want{"nanolb_endpoint_in_flight", ep("quiet", addrA), 0},
	)
	for _, name := range []string{"quiet", "static"} {
		if got := f.series("nanolb_endpoint_load_weight", "pool", name); len(got) != 0 {
			t.Errorf("load weight series for pool %s, with no weight in force: %v", name, got)
		}
	}
	for _, addr := range []string{addrA, addrB, addrC} {
		v, _ := f.get("nanolb_endpoint_load_weight", ep("weighed", addr)...)
		if w := status(t, weighed, addr).LoadWeight; v != w {
			t.Errorf("%s: scraped load weight %g, EndpointStatus.LoadWeight %g", addr, v, w)
		}
	}
	problems, err := testutil.CollectAndLint(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}
