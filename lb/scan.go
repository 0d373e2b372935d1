package lb

import (
	"math/bits"
	"sync/atomic"
	"unsafe"

	"github.com/nanolb/nanolb"
	"github.com/nanolb/nanolb/internal/race"
)

// The view's index arrays are written with atomics and scanned by the
// hardware layer's kernels, which read plain words: an aligned 64-bit load
// is single-copy atomic on every architecture Go supports with 64-bit
// words, and each scan's answer is checked against the health words. The
// race detector cannot see that, so under -race these scans walk the
// atomics in Go instead.

// words views atomics as the plain words they wrap (same size and layout).
func words(a []atomic.Uint64) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(a))), len(a))
}

func int64s(a []atomic.Int64) []int64 {
	return unsafe.Slice((*int64)(unsafe.Pointer(unsafe.SliceData(a))), len(a))
}

// popCountUp counts the set bits of the up bitmap.
func popCountUp(up []atomic.Uint64) int {
	if !race.Enabled {
		return nanolb.PopCount(words(up))
	}
	n := 0
	for i := range up {
		n += bits.OnesCount64(up[i].Load())
	}
	return n
}

// selectUp returns the index of the k-th set bit of the up bitmap, or -1.
func selectUp(up []atomic.Uint64, k int) int {
	if !race.Enabled {
		return nanolb.Select(words(up), k)
	}
	for i := range up {
		w := up[i].Load()
		if c := bits.OnesCount64(w); k >= c {
			k -= c
			continue
		}
		for b := 0; ; b++ {
			if w&(1<<b) != 0 {
				if k == 0 {
					return 64*i + b
				}
				k--
			}
		}
	}
	return -1
}

// firstDue returns the first index whose deadline is at or before now, or -1.
func firstDue(deadlines []atomic.Int64, now int64) int {
	if !race.Enabled {
		return nanolb.FirstDue(int64s(deadlines), now)
	}
	for i := range deadlines {
		if deadlines[i].Load() <= now {
			return i
		}
	}
	return -1
}

// earliest returns the index of the earliest deadline (the lowest index on
// ties), or -1 for none.
func earliest(deadlines []atomic.Int64) int {
	if !race.Enabled {
		return nanolb.MinIndex(int64s(deadlines))
	}
	best, low := -1, int64(never)
	for i := range deadlines {
		if d := deadlines[i].Load(); best < 0 || d < low {
			best, low = i, d
		}
	}
	return best
}
