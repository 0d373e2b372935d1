package lb

import (
	"testing"
	"time"
)

// BenchmarkLoadWeightsPickDone measures Pick+Done serially over 8
// endpoints for P2C, WeightedRoundRobin with static weights, and
// WeightedRoundRobin with LoadWeights and weights in force, in one run:
// the issue asks the last to stay within 1.5 times P2C. The report
// sub-benchmark adds a ReportLoad to every lease, as an adapter that
// reads a load header on every answer does.
func BenchmarkLoadWeightsPickDone(b *testing.B) {
	const n = 8
	b.Run("policy=p2c/n=8", func(b *testing.B) {
		pickDone(b, mustNew(b, Config{Policy: P2C}, addrs(n)...))
	})
	b.Run("policy=weighted_round_robin/n=8", func(b *testing.B) {
		pickDone(b, mustNew(b, Config{Policy: WeightedRoundRobin}, addrs(n)...))
	})
	b.Run("policy=weighted_round_robin+load_weights/n=8", func(b *testing.B) {
		pickDone(b, loadWeighted(b, n))
	})
	b.Run("policy=weighted_round_robin+load_weights+report/n=8", func(b *testing.B) {
		p := loadWeighted(b, n)
		load := Load{RPS: 100, CPUUtilization: 0.5}
		b.ReportAllocs()
		for b.Loop() {
			l, err := p.Pick()
			if err != nil {
				b.Fatal(err)
			}
			l.ReportLoad(load)
			l.Done(nil)
		}
		opsPerSec(b)
	})
}

// loadWeighted is a WeightedRoundRobin pool of n endpoints with
// LoadWeights and distinct weights in force: the weigher's run is called
// at a health-clock time past the reports' blackout.
func loadWeighted(b *testing.B, n int) *Pool {
	p := mustNew(b, Config{Policy: WeightedRoundRobin, LoadWeights: LoadWeights{Enabled: true, UpdatePeriod: time.Hour}}, addrs(n)...)
	p.mu.Lock()
	for i, c := range p.view.Load().cores {
		p.reportLoad(c, Load{RPS: float64(100 * (i + 1)), CPUUtilization: 1})
	}
	p.applyLoadWeights(p.now() + micros(DefaultLoadBlackout))
	p.mu.Unlock()
	if p.Endpoints()[0].LoadWeight != 100 {
		b.Fatalf("no weights in force: %v", p.Endpoints())
	}
	return p
}
