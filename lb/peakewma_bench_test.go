package lb

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// sinkFloat and sinkInt keep benchmarked results alive.
var (
	sinkFloat float64
	sinkInt   int64
)

// BenchmarkPeakEWMAParts prices the pieces of a PeakEWMA Pick+Done against
// P2C's whole Pick+Done in the same run (part=p2c_pick_done, the unit of
// issue 11's target): a latency clock read, a timed and an untimed lease's
// begin and end, and expNeg's two ranges. sampleEvery follows from the
// first two: a timed lease costs two clock reads more than an untimed one.
func BenchmarkPeakEWMAParts(b *testing.B) {
	b.Run("part=p2c_pick_done", func(b *testing.B) {
		pickDone(b, mustNew(b, Config{Policy: P2C}, addrs(8)...))
	})
	b.Run("part=peak_ewma_pick_done", func(b *testing.B) {
		pickDone(b, mustNew(b, Config{Policy: PeakEWMA}, addrs(8)...))
	})
	b.Run("part=clock_read", func(b *testing.B) {
		var s int64
		for b.Loop() {
			s += nanos()
		}
		sinkInt = s
	})
	p := mustNew(b, Config{Policy: PeakEWMA}, addrs(8)...)
	measure(p, time.Millisecond)
	tab := p.tables.peakEWMA.Load()
	c := &tab.slots[0].core
	b.Run("part=pick", func(b *testing.B) {
		for b.Loop() {
			c = tab.pick()
		}
	})
	b.Run("part=lease_untimed", func(b *testing.B) {
		for b.Loop() {
			tab.end(c, unsampled, nil)
		}
	})
	b.Run("part=lease_timed", func(b *testing.B) {
		for b.Loop() {
			tab.end(c, startMark(), nil)
		}
	})
	b.Run("part=begin", func(b *testing.B) {
		for b.Loop() {
			sinkInt = tab.begin(c)
		}
	})
	for _, r := range []struct {
		name string
		x    float64
	}{{"series", expSeries / 3}, {"table", 1.7}} {
		b.Run("part=expneg_"+r.name, func(b *testing.B) {
			x, s := r.x, 0.0
			for b.Loop() {
				s += expNeg(x)
			}
			sinkFloat = s
		})
	}
}

// BenchmarkPeakEWMAOverP2C measures issue 11's ratio under one noise: each
// iteration runs a batch of pairedBatch Pick+Dones on a P2C pool, then a
// batch on a PeakEWMA pool of the same endpoints, and times each batch, so
// both see the same moments of a shared machine. It reports the median
// batch of each, in ns per Pick+Done, and their ratio, peak/p2c: medians,
// because on a shared VM a batch the scheduler interrupts is inflated many
// times over, and it hits either pool. A batch's two clock reads add under
// half a nanosecond to each Pick+Done. ns/op is a pair of batches.
func BenchmarkPeakEWMAOverP2C(b *testing.B) {
	for _, n := range []int{8, 1024, 10000} {
		for _, ej := range []int{0, 50} {
			b.Run(fmt.Sprintf("n=%d/ejected=%d%%", n, ej), func(b *testing.B) {
				p2c := mustNew(b, Config{Policy: P2C, MaxEjectedPercent: 100}, addrs(n)...)
				peak := mustNew(b, Config{Policy: PeakEWMA, MaxEjectedPercent: 100}, addrs(n)...)
				ejectShare(p2c, ej)
				ejectShare(peak, ej)
				tp2c, tpeak := make([]time.Duration, b.N), make([]time.Duration, b.N)
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					tp2c[i] = pickDoneBatch(b, p2c)
					tpeak[i] = pickDoneBatch(b, peak)
				}
				b.StopTimer()
				mp2c, mpeak := medianDuration(tp2c), medianDuration(tpeak)
				b.ReportMetric(float64(mp2c)/pairedBatch, "p2c-ns/pickdone")
				b.ReportMetric(float64(mpeak)/pairedBatch, "peak-ns/pickdone")
				b.ReportMetric(float64(mpeak)/float64(mp2c), "peak/p2c")
			})
		}
	}
}

// medianDuration returns the median of ds, sorting it.
func medianDuration(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// pairedBatch is BenchmarkPeakEWMAOverP2C's batch: long enough that its two
// clock reads are noise, short enough that both pools share the noise and
// most batches run uninterrupted.
const pairedBatch = 256

// pickDoneBatch times pairedBatch Pick+Dones on p.
func pickDoneBatch(b *testing.B, p *Pool) time.Duration {
	start := time.Now()
	for range pairedBatch {
		l, err := p.Pick()
		if err != nil {
			b.Fatal(err)
		}
		l.Done(nil)
	}
	return time.Since(start)
}
