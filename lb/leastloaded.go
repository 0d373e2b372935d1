package lb

import "math"

// LeastLoaded: the endpoint with the fewest leases in flight over the whole
// table. Exact, and linear in the pool's size: one load per endpoint, each
// on its own cache line.

// pick returns the endpoint that is up with the fewest leases in flight,
// the lowest index on ties, or nil when none is up.
func (t *leastLoadedTable) pick() *core {
	var best *slot
	low := int64(math.MaxInt64)
	for _, s := range t.slots {
		if n := s.inflight.Load(); n < low && s.pickable() {
			best, low = s, n
		}
	}
	if best == nil {
		return nil
	}
	return &best.core
}
