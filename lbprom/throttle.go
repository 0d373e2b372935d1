package lbprom

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// ThrottleStats is one client-side adaptive throttle's counts, as a
// ThrottleCollector reads them at each scrape. Its fields are those of
// lbhttp.ThrottleStats and lbgrpc.ThrottleStats, so either converts to it
// (lbprom.ThrottleStats(transport.ThrottleStats())) without lbprom
// importing lbgrpc and its gRPC dependency.
type ThrottleStats struct {
	// Requests is the requests (an lbhttp Transport's attempts, or
	// lbgrpc's RPCs) the throttle counted over its window, the last two
	// minutes, those it rejected included.
	Requests int64
	// Accepts is the requests the backends accepted over the same window.
	Accepts int64
	// Rejected is the requests the throttle rejected locally, never sent,
	// since it started: a total that only grows.
	Rejected uint64
}

// ThrottleCollector is a prometheus.Collector for one client-side
// throttle, an lbhttp Transport's or an lbgrpc.Throttle, whose metrics
// carry the label throttle="name". It reads its stats function once per
// scrape and keeps nothing else, so it has no Close. Its methods are safe
// for concurrent use.
type ThrottleCollector struct {
	stats                       func() ThrottleStats
	requests, accepts, rejected *prometheus.Desc
}

// NewThrottleCollector returns a collector for the throttle whose counts
// stats returns, for example
//
//	func() lbprom.ThrottleStats { return lbprom.ThrottleStats(th.Stats()) }
//
// for an lbgrpc.Throttle th. stats is called at each scrape, from the
// scraping goroutine, and must be safe for that (both throttles' are).
// The name is a constant label of the collector's metrics, so a registry
// takes one collector per throttle, each under its own name; a second one
// with a name already registered is refused by Register. An empty name or
// a nil stats is an error wrapping ErrOption.
func NewThrottleCollector(name string, stats func() ThrottleStats) (*ThrottleCollector, error) {
	switch {
	case name == "":
		return nil, fmt.Errorf("%w: empty throttle name", ErrOption)
	case stats == nil:
		return nil, fmt.Errorf("%w: nil throttle stats function", ErrOption)
	}
	c := &ThrottleCollector{stats: stats}
	c.requests, c.accepts, c.rejected = throttleDescs(name)
	return c, nil
}

// Describe sends the three metrics' descriptions.
func (c *ThrottleCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.requests
	ch <- c.accepts
	ch <- c.rejected
}

// Collect reads the throttle's counts once and sends them.
func (c *ThrottleCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	ch <- prometheus.MustNewConstMetric(c.requests, prometheus.GaugeValue, float64(s.Requests))
	ch <- prometheus.MustNewConstMetric(c.accepts, prometheus.GaugeValue, float64(s.Accepts))
	ch <- prometheus.MustNewConstMetric(c.rejected, prometheus.CounterValue, float64(s.Rejected))
}
