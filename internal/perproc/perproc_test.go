package perproc

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Each stripe's counter sits alone on its cache line.
func TestStripesHaveTheirOwnLines(t *testing.T) {
	var s Stripe
	line := unsafe.Sizeof(cpu.CacheLinePad{})
	if off := unsafe.Offsetof(s.n); off < line || unsafe.Sizeof(s)-off < line {
		t.Fatalf("stripe counter at offset %d of %d bytes: not padded a full line on each side", off, unsafe.Sizeof(s))
	}
}

// There is a stripe for every P, in a power of two.
func TestStripesCoverEveryP(t *testing.T) {
	for _, procs := range []int{1, 2, 3, 5, 8} {
		old := runtime.GOMAXPROCS(procs)
		n := len(Stripes())
		runtime.GOMAXPROCS(old)
		if n < procs || n&(n-1) != 0 {
			t.Errorf("GOMAXPROCS %d: %d stripes", procs, n)
		}
	}
}

// A stripe's Take hands out every number once, in order.
func TestTakeCountsUp(t *testing.T) {
	var s Stripe
	s.Store(41)
	for want := uint64(41); want < 50; want++ {
		if got := s.Take(); got != want {
			t.Fatalf("Take = %d, want %d", got, want)
		}
	}
	s.Add(^uint64(0)) // minus one
	if got := s.Load(); got != 49 {
		t.Fatalf("Load after Add(-1) = %d, want 49", got)
	}
}

// Real goroutines, under -race: adds and subtractions from any P, some of
// them moving between Ps, sum exactly once they are done, and Load during
// them never goes below zero. Sums with too few stripes (GOMAXPROCS grew)
// and the zero Sum, which has none, count alike.
func TestSumIsExactOnceTheAddsAreDone(t *testing.T) {
	const goroutines, adds = 8, 2000
	spread := NewSum()
	for name, s := range map[string]*Sum{"NewSum": &spread, "one stripe": {stripes: make([]Stripe, 1)}, "the zero Sum": {}} {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range adds {
						if i%2 == 0 {
							s.Add(2)
						} else {
							s.AddOn(Pin(), -1)
							Unpin()
						}
						if g == 0 && i%100 == 0 {
							runtime.Gosched()
							if s.Load() < 0 {
								t.Error("negative sum")
							}
						}
					}
				})
			}
			wg.Wait()
			if got, want := s.Load(), int64(goroutines*adds/2); got != want {
				t.Fatalf("sum %d, want %d", got, want)
			}
		})
	}
}

// Add and AddOn allocate nothing.
func TestSumDoesNotAllocate(t *testing.T) {
	s := NewSum()
	if allocs := testing.AllocsPerRun(100, func() {
		s.Add(1)
		s.AddOn(Pin(), -1)
		Unpin()
	}); allocs != 0 {
		t.Errorf("%.1f allocations", allocs)
	}
}

// BenchmarkSum is Sum's add and take-back, pinned as a hot path does it,
// beside one shared atomic counter (the baseline) in the same run, serial
// and in parallel.
func BenchmarkSum(b *testing.B) {
	b.Run("counter=sum", func(b *testing.B) {
		s := NewSum()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.AddOn(Pin(), 1)
				Unpin()
				s.AddOn(Pin(), -1)
				Unpin()
			}
		})
	})
	b.Run("counter=atomic", func(b *testing.B) {
		var n struct {
			_ cpu.CacheLinePad
			v int64
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				atomic.AddInt64(&n.v, 1)
				atomic.AddInt64(&n.v, -1)
			}
		})
	})
}
