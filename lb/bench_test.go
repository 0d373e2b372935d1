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

var policyCases = []Policy{P2C, RoundRobin}

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
				p, err := New(Config{Policy: pol}, addrs(n)...)
				if err != nil {
					b.Fatal(err)
				}
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
