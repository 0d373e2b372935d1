package lb

import (
	"fmt"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/cpu"
)

// paddedCounter is reference (a): a counter alone on its cache line.
type paddedCounter struct {
	_ cpu.CacheLinePad
	n atomic.Int64
	_ cpu.CacheLinePad
}

func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d:8080", i/256, i%256)
	}
	return out
}

var policyCases = []Policy{P2C, RoundRobin, LeastLoaded, WeightedRoundRobin, PeakEWMA, Random, ConsistentHash}

// BenchmarkPickDone measures one Pick and its Done(nil), against reference
// (a), two atomic adds on a padded counter, measured in the same run.
func BenchmarkPickDone(b *testing.B) {
	for _, n := range []int{8, 1024} {
		b.Run(fmt.Sprintf("impl=reference-two-adds/n=%d", n), func(b *testing.B) {
			var c paddedCounter
			b.ReportAllocs()
			for b.Loop() {
				c.n.Add(1)
				c.n.Add(-1)
			}
		})
		for _, pol := range policyCases {
			b.Run(fmt.Sprintf("impl=%s/n=%d", pol, n), func(b *testing.B) {
				p := mustNew(b, Config{Policy: pol}, addrs(n)...)
				b.ReportAllocs()
				for b.Loop() {
					l, err := p.Pick()
					if err != nil {
						b.Fatal(err)
					}
					l.Done(nil)
				}
			})
		}
	}
}

// BenchmarkPickDoneParallel is BenchmarkPickDone on every P at once: the
// reference then shares nothing (one padded counter per goroutine), while a
// pool's goroutines share its endpoints.
func BenchmarkPickDoneParallel(b *testing.B) {
	for _, n := range []int{8, 1024} {
		b.Run(fmt.Sprintf("impl=reference-two-adds/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c := new(paddedCounter)
				for pb.Next() {
					c.n.Add(1)
					c.n.Add(-1)
				}
			})
		})
		for _, pol := range policyCases {
			b.Run(fmt.Sprintf("impl=%s/n=%d", pol, n), func(b *testing.B) {
				p := mustNew(b, Config{Policy: pol}, addrs(n)...)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						l, err := p.Pick()
						if err != nil {
							panic(err)
						}
						l.Done(nil)
					}
				})
			})
		}
	}
}
