package nanolb

import (
	"fmt"
	"sync/atomic"
	"testing"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Benchmarks: every kernel this CPU can run, called through a func value,
// next to the exported function called directly as a user would (inlined
// into the loop; kernel=dispatch) at the same sizes, so one run compares the
// generic code, each assembly kernel and the dispatch choice:
//
//	go test -run '^$' -bench . -count 6 -benchtime 100ms . > bench.txt
//	benchstat -col /kernel bench.txt
//
// The sizes cover 8, 64, 1024 and 10000 endpoints (1, 1, 16 and 157 words
// of bitmap) and the small lengths where the thresholds sit.

var sink int

var (
	wordSizes  = []int{1, 2, 3, 4, 8, 16, 32, 64, 157, 1024}
	int64Sizes = []int{1, 2, 4, 6, 8, 12, 16, 24, 32, 64, 128, 256, 1024, 10000}
)

func BenchmarkSelect(b *testing.B) {
	ks := append(selectImpls(), impl[selectFunc]{"dispatch", nil})
	for _, k := range ks {
		for _, n := range wordSizes {
			w := benchWords(n)
			// The middle set bit: a uniform pick among healthy endpoints
			// lands there on average.
			target := popCountGeneric(w) / 2
			b.Run(fmt.Sprintf("kernel=%s/n=%d", k.name, n), func(b *testing.B) {
				b.ReportAllocs()
				if k.fn == nil {
					for b.Loop() {
						sink += Select(w, target)
					}
					return
				}
				for b.Loop() {
					sink += k.fn(w, target)
				}
			})
		}
	}
}

func BenchmarkPopCount(b *testing.B) {
	ks := append(popCountImpls(), impl[popCountFunc]{"dispatch", nil})
	for _, k := range ks {
		for _, n := range wordSizes {
			w := benchWords(n)
			b.Run(fmt.Sprintf("kernel=%s/n=%d", k.name, n), func(b *testing.B) {
				b.ReportAllocs()
				if k.fn == nil {
					for b.Loop() {
						sink += PopCount(w)
					}
					return
				}
				for b.Loop() {
					sink += k.fn(w)
				}
			})
		}
	}
}

func BenchmarkMinIndex(b *testing.B) {
	ks := append(minIndexImpls(), impl[minIndexFunc]{"dispatch", nil})
	for _, k := range ks {
		for _, n := range int64Sizes {
			v := benchInt64s(n)
			b.Run(fmt.Sprintf("kernel=%s/n=%d", k.name, n), func(b *testing.B) {
				b.ReportAllocs()
				if k.fn == nil {
					for b.Loop() {
						sink += MinIndex(v)
					}
					return
				}
				for b.Loop() {
					sink += k.fn(v)
				}
			})
		}
	}
}

// BenchmarkFirstDue measures the full scan (nothing due), the case that
// decides the cost of a probe sweep; an early hit costs less on every kernel.
func BenchmarkFirstDue(b *testing.B) {
	ks := append(firstDueImpls(), impl[firstDueFunc]{"dispatch", nil})
	for _, k := range ks {
		for _, n := range int64Sizes {
			v := benchInt64s(n)
			b.Run(fmt.Sprintf("kernel=%s/n=%d", k.name, n), func(b *testing.B) {
				b.ReportAllocs()
				if k.fn == nil {
					for b.Loop() {
						sink += FirstDue(v, -1)
					}
					return
				}
				for b.Loop() {
					sink += k.fn(v, -1)
				}
			})
		}
	}
}

// paddedCounter is an endpoint's slot as the lb package lays it out: the
// in-flight counter at offset 0, padded to a cache line (64 B on amd64,
// 128 B on arm64, the size of cpu.CacheLinePad), each allocated on its own.
type paddedCounter struct {
	inflight int64
	_        [unsafe.Sizeof(cpu.CacheLinePad{}) - 8]byte
}

// BenchmarkMinIndexLayout answers: with one padded slot per endpoint, is it
// faster to find the least loaded endpoint by a scalar gather over the
// slots' counters (layout=gather), or by copying the counters into a dense
// []int64 snapshot and running MinIndex on it (layout=copy+MinIndex)?
// layout=dense is MinIndex alone on a snapshot that already exists, the
// bound a copy can approach. Loads are atomic, as in the balancer.
//
// Finding (Zen 4 VM, four runs of -count 6 or 10, benchstat; ratios are
// time relative to gather): copy+MinIndex is 2.2x to 2.4x at n=8, 1.08x to
// 1.34x at 64 (one run within noise), 1.12x to 1.22x at 1024 and 1.19x to
// 1.24x at 10000, so it never wins. The copy is itself the gather (one
// cache line per endpoint), and SIMD over the copy can only add to it.
// dense alone is 0.21x to 0.27x of gather at 64 and about 0.11x at 1024 and
// 10000: the gain a balancer would get only by keeping the counters dense,
// giving up the padding that keeps concurrent updates off shared lines.
// So: scan padded slots with a scalar gather; use MinIndex only on data
// that is already dense.
func BenchmarkMinIndexLayout(b *testing.B) {
	for _, n := range []int{8, 64, 1024, 10000} {
		r := rng(uint64(n))
		slots := make([]*paddedCounter, n)
		ptrs := make([]*int64, n)
		for i := range slots {
			slots[i] = &paddedCounter{inflight: int64(r.IntN(1000))}
			ptrs[i] = &slots[i].inflight
		}
		dense := make([]int64, n)
		b.Run(fmt.Sprintf("layout=gather/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink += gatherMinIndex(ptrs)
			}
		})
		b.Run(fmt.Sprintf("layout=copy+MinIndex/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for i, p := range ptrs {
					dense[i] = atomic.LoadInt64(p)
				}
				sink += MinIndex(dense)
			}
		})
		b.Run(fmt.Sprintf("layout=dense/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink += MinIndex(dense)
			}
		})
	}
}

func TestPaddedCounterFillsACacheLine(t *testing.T) {
	if got, want := unsafe.Sizeof(paddedCounter{}), unsafe.Sizeof(cpu.CacheLinePad{}); got != want {
		t.Fatalf("paddedCounter is %d bytes, want one cache line (%d)", got, want)
	}
	if off := unsafe.Offsetof(paddedCounter{}.inflight); off != 0 {
		t.Fatalf("paddedCounter.inflight at offset %d, want 0", off)
	}
}

// gatherMinIndex is MinIndex over counters reached through pointers.
func gatherMinIndex(ptrs []*int64) int {
	if len(ptrs) == 0 {
		return -1
	}
	best, m := 0, atomic.LoadInt64(ptrs[0])
	for i, p := range ptrs[1:] {
		if x := atomic.LoadInt64(p); x < m {
			best, m = i+1, x
		}
	}
	return best
}

func benchWords(n int) []uint64 {
	r := rng(uint64(n) + 100)
	w := make([]uint64, n)
	for i := range w {
		w[i] = r.Uint64()
	}
	return w
}

// benchInt64s returns n non-negative values, so FirstDue(v, -1) scans all.
func benchInt64s(n int) []int64 {
	r := rng(uint64(n) + 200)
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(r.Uint64() >> 1)
	}
	return v
}
