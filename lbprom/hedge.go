package lbprom

import "github.com/prometheus/client_golang/prometheus"

// HedgeStats is one hedger's counts, as a HedgeCollector reads them at
// each scrape. Its fields are those of lbhttp.HedgeStats and
// lbgrpc.HedgeStats, so either converts to it
// (lbprom.HedgeStats(transport.HedgeStats())) without lbprom importing
// lbgrpc and its gRPC dependency. Every field is a total since the hedger
// started; the zero value is a hedger that has hedged nothing.
type HedgeStats struct {
	// Sent is the hedges sent: attempts started because those in flight
	// had not answered within the hedge delay.
	Sent uint64
	// Won is the requests (or RPCs) a hedge answered first, with success.
	Won uint64
	// Refused is the hedges not sent because the retry budget was empty.
	Refused uint64
}

// HedgeCollector is a prometheus.Collector for one hedger, an lbhttp
// Transport's hedging or an lbgrpc.Hedger, whose metrics carry the label
// hedger="name". It reads its stats function once per scrape and keeps
// nothing else, so it has no Close. Its methods are safe for concurrent
// use.
type HedgeCollector struct{ clientCollector }

// NewHedgeCollector returns a collector for the hedger whose counts stats
// returns, for example
//
//	func() lbprom.HedgeStats { return lbprom.HedgeStats(h.Stats()) }
//
// for an lbgrpc.Hedger h. stats is called at each scrape, from the
// scraping goroutine, and must be safe for that (both hedgers' are). The
// name is a constant label of the collector's metrics, so a registry takes
// one collector per hedger, each under its own name; a second one with a
// name already registered is refused by Register. An empty name or a nil
// stats is an error wrapping ErrOption.
func NewHedgeCollector(name string, stats func() HedgeStats) (*HedgeCollector, error) {
	if err := checkClient("hedger", name, stats == nil); err != nil {
		return nil, err
	}
	sent, won, refused := hedgeDescs(name)
	return &HedgeCollector{clientCollector{
		descs: []*prometheus.Desc{sent, won, refused},
		types: []prometheus.ValueType{prometheus.CounterValue, prometheus.CounterValue, prometheus.CounterValue},
		read: func() []float64 {
			s := stats()
			return []float64{float64(s.Sent), float64(s.Won), float64(s.Refused)}
		},
	}}, nil
}
