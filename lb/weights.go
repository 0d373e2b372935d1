package lb

import "math/bits"

// cumulativeWeights returns the running sums of the members' weights.
func cumulativeWeights(members []member) []uint64 {
	out := make([]uint64, len(members))
	var sum uint64
	for i, m := range members {
		sum += uint64(m.c.weight.Load())
		out[i] = sum
	}
	return out
}

// weightedIndex maps ticket t to a slot: bit-reversed, t is a point of the
// van der Corput sequence in [0, 1), scaled to the total weight; the slot
// is the one whose stretch of the cumulative weight holds it. Any 2^k
// consecutive aligned tickets land within one point of each slot's exact
// share, and consecutive tickets fall half the weight line apart, so a
// heavy endpoint's picks are spread out rather than sent in a burst.
func weightedIndex(cumulative []uint64, t uint64) int {
	point, _ := bits.Mul64(bits.Reverse64(t), cumulative[len(cumulative)-1])
	lo, hi := 0, len(cumulative)-1
	for lo < hi { // the first i with point < cumulative[i]
		mid := int(uint(lo+hi) >> 1)
		if point < cumulative[mid] {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}
