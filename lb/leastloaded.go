package lb

import "math"

// LeastLoaded: the endpoint with the lowest load (streakLoad: the in-flight
// count, doubled per failure in a row) over the whole table. Exact, and
// linear in the pool's size: one load per endpoint, each on its own cache
// line. The scan starts at a random slot, so ties are spread instead of
// all going to the first endpoint.

// pick returns the endpoint that is up with the lowest load, the first
// from a random start on ties, or nil when none is up.
func (t *leastLoadedTable) pick() *core {
	n := len(t.slots)
	if n == 0 {
		return nil
	}
	var best *slot
	low := int64(math.MaxInt64)
	i := randn(n)
	for range n {
		s := t.slots[i]
		// The bare count first: a streak only adds load, so an endpoint
		// whose count is not lower cannot win, and its health word is read
		// only for the few that might.
		if l := s.inflight.Load(); l < low {
			if h := s.health.Load(); h == 0 {
				best, low = s, l
			} else if stateOf(h) == stateUp {
				if l = streakLoad(l, h); l < low {
					best, low = s, l
				}
			}
		}
		if i++; i == n {
			i = 0
		}
	}
	if best == nil {
		return nil
	}
	return &best.core
}
