package lb

import (
	"math/bits"
	"sync/atomic"
)

// RoundRobin: tickets from one shared counter, ticket t to endpoint t mod n
// (a multiply-shift remainder, no division). A ticket that lands on an
// endpoint that is not up is drawn again rather than passed to the next
// endpoint, so the endpoints that are up share picks evenly.

// roundRobinTickets is how many tickets a round robin draws before it
// scans: with a share f of endpoints ejected, a scan happens with
// probability f^4.
const roundRobinTickets = 4

// setup computes the remainder's magic number and carries the ticket
// cursor over from prev, so membership churn does not favour the first
// endpoints.
func (t *roundRobinTable) setup(prev *roundRobinTable, _ tableEnv) {
	if n := len(t.slots); n > 0 {
		t.magic = ^uint64(0)/uint64(n) + 1
	}
	if prev != nil {
		t.next.Store(prev.next.Load())
	}
}

// at maps ticket k to a slot index.
func (t *roundRobinTable) at(k uint64) int {
	return int(fastmod(uint32(k), t.magic, uint32(len(t.slots))))
}

// pick hands out the next ticket whose endpoint is up, or returns nil when
// none is.
func (t *roundRobinTable) pick() *core {
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

// walkTickets is the round robins' path when every ticket drawn missed:
// walk on from the cursor over n tickets, spending the tickets walked over
// with the one used so the next Pick does not repeat it, and, since
// weighted tickets need not reach every endpoint, end with any endpoint
// that is up.
func (v *view) walkTickets(next *atomic.Uint64, n int, at func(uint64) int) *core {
	start := next.Load()
	for k := range uint64(n) {
		if c := v.cores[at(start+k)]; c.pickable() {
			next.CompareAndSwap(start, start+k+1)
			return c
		}
	}
	return v.scanFrom(at(start))
}

// fastmod returns a % d for the magic m = ^uint64(0)/d + 1 (Lemire, Kaser
// and Kurz, "Faster remainder by direct computation", 2019): two multiplies
// instead of a division.
func fastmod(a uint32, m uint64, d uint32) uint32 {
	hi, _ := bits.Mul64(m*uint64(a), uint64(d))
	return uint32(hi)
}
