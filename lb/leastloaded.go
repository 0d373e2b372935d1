package lb

import (
	"math"

	"github.com/nanolb/nanolb/internal/fastrand"
)

// LeastLoaded: the endpoint with the lowest load (streakLoad: the in-flight
// count, doubled per failure in a row) over the whole table. Exact, and
// linear in the pool's size: one load per endpoint, each on its own cache
// line. A random endpoint is weighed first and wins its ties, so idle
// endpoints share picks instead of all going to the first one.

// pick returns the endpoint that is up with the lowest load, or nil when
// none is up. On a tie a randomly drawn endpoint wins if it is among the
// tied, else the first of them.
func (t *leastLoadedTable) pick() *core {
	if len(t.slots) == 0 {
		return nil
	}
	// A random endpoint that is up with no streak is weighed first, so it
	// wins a tie with any other: idle endpoints share picks evenly. One
	// with a streak is left to the scan, which draws its trial share once.
	// A scan from a random start would spread every tie, but its loops'
	// random lengths mispredict and cost more than the rest of the pick.
	var best *slot
	low := int64(math.MaxInt64)
	if s := t.slots[fastrand.N(len(t.slots))]; s.health.Load() == 0 { // up, no streak
		best, low = s, s.inFlight()
	}
	best, _ = lowest(t.slots, best, low)
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
		if l := s.inFlight(); l < low {
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
