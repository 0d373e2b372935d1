// Package harness defines the single operation every balancer in this module
// is measured by, one Pick followed by its release, and the benchmark loops
// that run it. The peers benchmarks and cmd/benchgate share these loops, so a
// number from one is comparable with a number from the other.
package harness

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// Cycler performs one Pick-then-release cycle on a balancer.
type Cycler interface {
	// Cycle picks an endpoint, releases the pick as a success, and returns
	// the picked endpoint's address. It must be safe for concurrent use.
	Cycle() string
}

// Impl names a balancer under test and builds it over a set of addresses.
type Impl struct {
	// Name is the value of the impl= key in benchmark names.
	Name string
	// Build returns a ready balancer spreading picks over addrs.
	Build func(addrs []string) (Cycler, error)
	// Floor marks a reference that ignores its addresses (a cost floor, not
	// a balancer); tests that check the spread of picks skip it.
	Floor bool
}

// Addrs returns n distinct endpoint addresses. They are only ever compared,
// never dialled: no balancer here opens a connection.
func Addrs(n int) []string {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", 20000+i)
	}
	return addrs
}

var errNoAddrs = errors.New("harness: no addresses")

// sink keeps benchmark results observable so the cycle cannot be elided.
var sink atomic.Int64

// Serial measures c.Cycle on one goroutine.
func Serial(b *testing.B, c Cycler) {
	b.ReportAllocs()
	var total int
	for b.Loop() {
		total += len(c.Cycle())
	}
	sink.Add(int64(total))
}

// Parallel measures c.Cycle from GOMAXPROCS goroutines at once.
func Parallel(b *testing.B, c Cycler) {
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var total int
		for pb.Next() {
			total += len(c.Cycle())
		}
		sink.Add(int64(total))
	})
}
