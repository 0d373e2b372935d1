package lbprom_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
	"github.com/nanolb/nanolb/lbprom"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// A registry's pools on a Prometheus endpoint. The gauges are read at each
// scrape: here a lease in flight and the endpoints' states.
func ExampleNewCollector() {
	pools := lb.NewRegistry()
	pool, _ := pools.Ensure("users", lb.Config{}, "10.0.0.1:8080")

	c, err := lbprom.NewCollector(pools, lbprom.WithPools("users"))
	if err != nil {
		panic(err)
	}
	defer c.Close() // ends the event subscription
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	_ = promhttp.HandlerFor(reg, promhttp.HandlerOpts{}) // serve it: http.Handle("/metrics", ...)

	lease, _ := pool.Pick()
	defer lease.Done(nil)

	fams, _ := reg.Gather()
	for _, f := range fams {
		if slices.Contains([]string{"nanolb_endpoint_in_flight", "nanolb_endpoint_state"}, f.GetName()) {
			expfmt.MetricFamilyToText(os.Stdout, f)
		}
	}
	// Output:
	// # HELP nanolb_endpoint_in_flight Leases on the endpoint not yet ended with Done.
	// # TYPE nanolb_endpoint_in_flight gauge
	// nanolb_endpoint_in_flight{endpoint="10.0.0.1:8080",pool="users"} 1
	// # HELP nanolb_endpoint_state 1 for the endpoint's passive-health state (up, ejected or probing), 0 for the others.
	// # TYPE nanolb_endpoint_state gauge
	// nanolb_endpoint_state{endpoint="10.0.0.1:8080",pool="users",state="ejected"} 0
	// nanolb_endpoint_state{endpoint="10.0.0.1:8080",pool="users",state="probing"} 0
	// nanolb_endpoint_state{endpoint="10.0.0.1:8080",pool="users",state="up"} 1
}

// One pool outside a registry, named by the collector.
func ExampleNewPoolCollector() {
	pool, _ := lb.New(lb.Config{}, "10.0.0.1:8080", "10.0.0.2:8080")
	c, err := lbprom.NewPoolCollector("billing", pool)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	fams, _ := reg.Gather()
	for _, f := range fams {
		if f.GetName() == "nanolb_pool_endpoints" {
			m := f.GetMetric()[0]
			fmt.Println(f.GetName(), m.GetLabel()[0].GetValue(), m.GetGauge().GetValue())
		}
	}
	// Output:
	// nanolb_pool_endpoints billing 2
}

// An lbhttp Transport's throttle on a Prometheus endpoint, read at each
// scrape; an lbgrpc.Throttle's is read the same way, from its Stats. Here
// the backend accepted both requests, so the throttle rejected none.
func ExampleNewThrottleCollector() {
	backend := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer backend.Close()
	pool, _ := lb.New(lb.Config{}, strings.TrimPrefix(backend.URL, "http://"))
	tr := &lbhttp.Transport{Pool: pool, Throttle: true}
	client := &http.Client{Transport: tr}

	c, err := lbprom.NewThrottleCollector("search", func() lbprom.ThrottleStats {
		return lbprom.ThrottleStats(tr.ThrottleStats()) // the same fields
	})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	for range 2 {
		resp, err := client.Get("http://search/")
		if err != nil {
			panic(err)
		}
		resp.Body.Close()
	}
	fams, _ := reg.Gather()
	for _, f := range fams {
		expfmt.MetricFamilyToText(os.Stdout, f)
	}
	// Output:
	// # HELP nanolb_throttle_accepts Requests the backends accepted over the client-side throttle's two-minute window.
	// # TYPE nanolb_throttle_accepts gauge
	// nanolb_throttle_accepts{throttle="search"} 2
	// # HELP nanolb_throttle_rejected_total Requests the client-side throttle rejected locally, never sent, since it started.
	// # TYPE nanolb_throttle_rejected_total counter
	// nanolb_throttle_rejected_total{throttle="search"} 0
	// # HELP nanolb_throttle_requests Requests the client-side throttle counted over its two-minute window, those it rejected included.
	// # TYPE nanolb_throttle_requests gauge
	// nanolb_throttle_requests{throttle="search"} 2
}

// An lbhttp Transport's hedging on a Prometheus endpoint, read at each
// scrape; an lbgrpc.Hedger's is read the same way, from its Stats. Here
// the first request the backends get stalls until it is cancelled, so the
// request is hedged to the other backend after 20 ms and the hedge wins.
func ExampleNewHedgeCollector() {
	var stalled atomic.Bool
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stalled.CompareAndSwap(false, true) {
			<-r.Context().Done() // the attempt that lost: cancelled
		}
	})
	a, b := httptest.NewServer(handler), httptest.NewServer(handler)
	defer a.Close()
	defer b.Close()
	pool, _ := lb.New(lb.Config{}, strings.TrimPrefix(a.URL, "http://"), strings.TrimPrefix(b.URL, "http://"))
	tr := &lbhttp.Transport{Pool: pool, HedgeAfter: 20 * time.Millisecond}
	defer tr.CloseIdleConnections()

	c, err := lbprom.NewHedgeCollector("search", func() lbprom.HedgeStats {
		return lbprom.HedgeStats(tr.HedgeStats()) // the same fields
	})
	if err != nil {
		panic(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	resp, err := (&http.Client{Transport: tr}).Get("http://search/")
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fams, _ := reg.Gather()
	for _, f := range fams {
		expfmt.MetricFamilyToText(os.Stdout, f)
	}
	// Output:
	// # HELP nanolb_hedges_refused_total Hedges not sent because the retry budget was empty.
	// # TYPE nanolb_hedges_refused_total counter
	// nanolb_hedges_refused_total{hedger="search"} 0
	// # HELP nanolb_hedges_sent_total Hedges sent: copies of a request started because the attempts in flight had not answered within the hedge delay.
	// # TYPE nanolb_hedges_sent_total counter
	// nanolb_hedges_sent_total{hedger="search"} 1
	// # HELP nanolb_hedges_won_total Requests a hedge answered first, with success.
	// # TYPE nanolb_hedges_won_total counter
	// nanolb_hedges_won_total{hedger="search"} 1
}

// Outlier detection's last evaluated interval on a Prometheus endpoint:
// each endpoint's requests and success rate, reported from the pool's
// first evaluation, which runs at a failure an Interval (here 1 ms) after
// the pool was made.
func Example_outlierDetection() {
	pools := lb.NewRegistry()
	pool, _ := pools.Ensure("orders", lb.Config{Policy: lb.RoundRobin, Outlier: lb.Outlier{Interval: time.Millisecond}},
		"10.0.0.1:8080", "10.0.0.2:8080")
	c, err := lbprom.NewCollector(pools)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)

	time.Sleep(2 * time.Millisecond) // the Interval passes
	for i := range 10 {              // five requests each; the last one fails
		lease, _ := pool.Pick()
		if i == 9 {
			lease.Done(errors.New("connection refused")) // evaluates the interval
		} else {
			lease.Done(nil)
		}
	}

	fams, _ := reg.Gather()
	for _, f := range fams {
		if slices.Contains([]string{"nanolb_endpoint_interval_requests", "nanolb_endpoint_success_rate"}, f.GetName()) {
			for _, m := range f.GetMetric() {
				fmt.Println(f.GetName(), m.GetLabel()[0].GetValue(), m.GetGauge().GetValue())
			}
		}
	}
	// Output:
	// nanolb_endpoint_interval_requests 10.0.0.1:8080 5
	// nanolb_endpoint_interval_requests 10.0.0.2:8080 5
	// nanolb_endpoint_success_rate 10.0.0.1:8080 1
	// nanolb_endpoint_success_rate 10.0.0.2:8080 0.8
}
