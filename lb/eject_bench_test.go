package lb

import "testing"

// BenchmarkEjectTransition is the ejection transition alone: an endpoint
// one failure short of EjectAfter fails, is ejected (compare-and-swap,
// index, wake timer), and is put back by hand, untimed work included.
func BenchmarkEjectTransition(b *testing.B) {
	p := mustNew(b, Config{EjectAfter: 2, MaxEjectedPercent: 100}, addrs(8)...)
	c := p.view.Load().cores[3]
	b.ReportAllocs()
	for b.Loop() {
		c.health.Store(healthWord(stateUp, 1, 0, 0))
		p.failed(c, 0, false)
		c.health.Store(0)
		p.counts.ejected.Add(-1)
		p.track(c)
	}
}
