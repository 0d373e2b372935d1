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
	if len(t.slots) == 0 {
		return nil
	}
	start := randn(len(t.slots))
	best, low := lowest(t.slots[start:], nil, math.MaxInt64)
	best, _ = lowest(t.slots[:start], best, low)
	if best == nil {
		return nil
	}
	return &best.core
}

// lowest returns the endpoint of slots that is up with the lowest load
// below low, else best and low as given. The bare count comes first: a
// streak only adds load, so an endpoint whose count is not lower cannot
// win, and the health word is read only for those that might.
func lowest(slots []*slot, best *slot, low int64) (*slot, int64) {
	for _, s := range slots {
		if l := s.inflight.Load(); l < low {
			if h := s.health.Load(); h == 0 {
				best, low = s, l
			} else if stateOf(h) == stateUp {
				if l = streakLoad(l, h); l < low {
					best, low = s, l
				}
			}
		}
	}
	return best, low
}
