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
type ThrottleCollector struct{ clientCollector }

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
	if err := checkClient("throttle", name, stats == nil); err != nil {
		return nil, err
	}
	requests, accepts, rejected := throttleDescs(name)
	return &ThrottleCollector{clientCollector{
		descs: []*prometheus.Desc{requests, accepts, rejected},
		types: []prometheus.ValueType{prometheus.GaugeValue, prometheus.GaugeValue, prometheus.CounterValue},
		read: func() []float64 {
			s := stats()
			return []float64{float64(s.Requests), float64(s.Accepts), float64(s.Rejected)}
		},
	}}, nil
}

// clientCollector is what ThrottleCollector and HedgeCollector share: the
// metrics of one client-side mechanism, read through a function once per
// scrape.
type clientCollector struct {
	descs []*prometheus.Desc
	types []prometheus.ValueType
	read  func() []float64 // the metrics' values, in the order of descs
}

// Describe sends the metrics' descriptions.
func (c *clientCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the counts once and sends them.
func (c *clientCollector) Collect(ch chan<- prometheus.Metric) {
	for i, v := range c.read() {
		ch <- prometheus.MustNewConstMetric(c.descs[i], c.types[i], v)
	}
}

// checkClient is the check both client collectors make of their name and
// stats function.
func checkClient(kind, name string, nilStats bool) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty %s name", ErrOption, kind)
	case nilStats:
		return fmt.Errorf("%w: nil %s stats function", ErrOption, kind)
	}
	return nil
}
