package lb

import (
	"math/bits"
	"sync/atomic"

	"github.com/nanolb/nanolb/internal/perproc"
)

// RoundRobin: ticket t goes to endpoint t mod n (a multiply-shift
// remainder, no division). A ticket that lands on an endpoint that is not
// up is drawn again rather than passed to the next endpoint, so the
// endpoints that are up share picks evenly.
//
// Tickets come from one shared counter while picks do not collide, so a
// pool used by one goroutine at a time cycles exactly: endpoint 0, 1, ...,
// n-1, 0, .... Under parallel load one shared counter is one cache line
// that every core writes on every pick (at 2 Ps a Pick+Done cost 3.3 times
// its serial cost). So the first pick that loses a compare-and-swap on the
// shared counter switches the table to stripes: a counter per processor
// (P), each alone on its cache line and written only by a goroutine pinned
// to its P (internal/perproc), so with no atomic instruction, each cycling over
// all endpoints from its own offset. Every stripeSpell tickets a stripe
// hands out, it switches the table back, and the next collision stripes it
// again: a pool whose load has become serial cycles exactly again within
// stripeSpell picks (per stripe, if the goroutine moves between Ps). Each
// counter, shared or striped, is itself an exact cycle that nothing
// resets, so the endpoints' shares of all the tickets differ by at most
// one per counter.

// roundRobinTickets is how many tickets a round robin draws before it
// scans: with a share f of endpoints ejected, a scan happens with
// probability f^4.
const roundRobinTickets = 4

// stripeSpell is how many tickets a stripe hands out before the table
// tries the shared counter again: a power of two. Long, because collisions
// are rare even on a contended counter (a load and a compare-and-swap a
// few nanoseconds apart usually both win; docs/design.md).
const stripeSpell = 1 << 16

// setup computes the remainder's magic number, makes a stripe per P
// (rounded up to a power of two) spread over the cycle, and carries the
// ticket counters over from prev, so membership churn does not favour the
// first endpoints.
func (t *roundRobinTable) setup(prev *roundRobinTable, _ tableEnv) {
	n := len(t.slots)
	if n > 0 {
		t.magic = ^uint64(0)/uint64(n) + 1
	}
	if prev != nil {
		t.next.Store(prev.next.Load())
		t.striped.Store(prev.striped.Load())
		t.stripes = make([]perproc.Stripe, len(prev.stripes))
		for i := range t.stripes {
			t.stripes[i].Store(prev.stripes[i].Load())
		}
		return
	}
	t.stripes = perproc.Stripes()
	for i := range t.stripes {
		t.stripes[i].Store(uint64(i * n / len(t.stripes)))
	}
}

// at maps ticket k to a slot index.
func (t *roundRobinTable) at(k uint64) int {
	return int(fastmod(uint32(k), t.magic, uint32(len(t.slots))))
}

// ticket hands out the next ticket: from the shared counter unless picks
// collide on it, else from the current P's stripe.
func (t *roundRobinTable) ticket() uint64 {
	if !t.striped.Load() {
		k := t.next.Load()
		if t.next.CompareAndSwap(k, k+1) {
			return k
		}
		t.striped.Store(true)
	}
	var k uint64
	if pid := perproc.Pin(); pid < len(t.stripes) {
		k = t.stripes[pid].Take() // pinned: its P's own counter, no atomic
		perproc.Unpin()
	} else { // GOMAXPROCS grew since the first table: share the counter
		perproc.Unpin()
		k = t.next.Add(1) - 1
	}
	if k%stripeSpell == stripeSpell-1 {
		t.striped.Store(false)
	}
	return k
}

// pick hands out the next ticket whose endpoint is up, or returns nil when
// none is.
func (t *roundRobinTable) pick() *core {
	if len(t.slots) == 0 {
		return nil
	}
	for range roundRobinTickets {
		if s := t.slots[t.at(t.ticket())]; s.pickable() {
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
