package quantile

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

// latencies are exponential with a 10 ms mean, so that Record's adds
// spread over buckets as a service's latencies would.
var latencies = func() (l [1024]time.Duration) {
	r := rand.New(rand.NewPCG(1, 1))
	for i := range l {
		l[i] = time.Duration(float64(10*time.Millisecond) * r.ExpFloat64())
	}
	return l
}()

// BenchmarkRecord pairs Record with a baseline of one atomic add on one
// counter.
func BenchmarkRecord(b *testing.B) {
	b.Run("impl=histogram/serial", func(b *testing.B) {
		h := mustNew(b, Options{})
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			h.Record(latencies[i%len(latencies)])
		}
	})
	b.Run("impl=histogram/parallel", func(b *testing.B) {
		h := mustNew(b, Options{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				h.Record(latencies[i%len(latencies)])
			}
		})
	})
	b.Run("impl=atomic-add/serial", func(b *testing.B) {
		var n atomic.Uint64
		b.ReportAllocs()
		for b.Loop() {
			n.Add(1)
		}
	})
	b.Run("impl=atomic-add/parallel", func(b *testing.B) {
		var n atomic.Uint64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n.Add(1)
			}
		})
	})
}

// BenchmarkQuantile measures an answer from the snapshot, serial and
// parallel, and one that sums the ring on every call.
func BenchmarkQuantile(b *testing.B) {
	filled := func(b *testing.B, o Options) *Histogram {
		h := mustNew(b, o)
		for _, d := range latencies {
			h.Record(d)
		}
		return h
	}
	reused := Options{Window: 4 * time.Hour, Refresh: time.Hour}
	b.Run("answer=reused/serial", func(b *testing.B) {
		h := filled(b, reused)
		b.ReportAllocs()
		for b.Loop() {
			h.Quantile(0.99)
		}
	})
	b.Run("answer=reused/parallel", func(b *testing.B) {
		h := filled(b, reused)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				h.Quantile(0.99)
			}
		})
	})
	b.Run("answer=refreshed/serial", func(b *testing.B) {
		h := filled(b, Options{Refresh: time.Nanosecond})
		b.ReportAllocs()
		for b.Loop() {
			h.Quantile(0.99)
		}
	})
}
