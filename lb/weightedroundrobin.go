package lb

import "math/bits"

// WeightedRoundRobin: static weights, no lock. Ticket t, bit-reversed, is a
// point of the van der Corput sequence on the cumulative weight line; the
// endpoint whose stretch holds it is leased. One atomic add and a binary
// search per pick.

// setup sums the weights and carries the ticket cursor over from prev.
// The kept endpoints' weights come from prev's sums, a compact array,
// unless Set changed one (change.reweighed): then all are read again.
// Under LoadWeights the weights are those reported load gives
// (loadCumulative), read again on every change.
func (t *weightedRoundRobinTable) setup(prev *weightedRoundRobinTable, env tableEnv) {
	if env.cfg.loadWeights.on { // the weights reported load gives, not Endpoint.Weight
		t.cumulative = loadCumulative(t.slots)
		if prev != nil {
			t.next.Store(prev.next.Load())
		}
		return
	}
	ch := env.change
	t.cumulative = make([]uint64, len(t.slots))
	var sum uint64
	j := 0
	if prev != nil && !ch.reweighed {
		// The kept endpoints' weights are as prev summed them: take them
		// from prev's sums rather than from their slots.
		var below uint64
		for i, c := range prev.cumulative {
			w := c - below
			below = c
			if ch.drop == nil || !ch.drop[i] {
				sum += w
				t.cumulative[j] = sum
				j++
			}
		}
	}
	for _, s := range t.slots[j:] {
		sum += uint64(s.weight.Load())
		t.cumulative[j] = sum
		j++
	}
	if prev != nil {
		t.next.Store(prev.next.Load())
	}
}

// at maps ticket k to a slot index: see weightedIndex.
func (t *weightedRoundRobinTable) at(k uint64) int { return weightedIndex(t.cumulative, k) }

// pick hands out the next ticket whose endpoint is up, or returns nil when
// none is.
func (t *weightedRoundRobinTable) pick() *core {
	if len(t.slots) == 0 {
		return nil
	}
	for range roundRobinTickets {
		if s := t.slots[t.at(t.next.Add(1)-1)]; s.pickable() {
			return &s.core
		}
	}
	return t.view.walkTickets(&t.next, len(t.slots), t.at)
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
