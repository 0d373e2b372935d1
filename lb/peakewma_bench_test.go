package lb

import (
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
		p := mustNew(b, Config{Policy: P2C}, addrs(8)...)
		b.ReportAllocs()
		for b.Loop() {
			l, _ := p.Pick()
			l.Done(nil)
		}
	})
	b.Run("part=peak_ewma_pick_done", func(b *testing.B) {
		p := mustNew(b, Config{Policy: PeakEWMA}, addrs(8)...)
		b.ReportAllocs()
		for b.Loop() {
			l, _ := p.Pick()
			l.Done(nil)
		}
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
