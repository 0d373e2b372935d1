package lb

import (
	"math/bits"
	"sync/atomic"
)

// RoundRobin: ticket t goes to endpoint t mod n (a multiply-shift
// remainder, no division). A ticket that lands on an endpoint that is not
// up is drawn again rather than passed to the next endpoint, so the
// endpoints that are up share picks evenly.
//
// Tickets come from counters per processor (P), each alone on its cache
// line and touched only by a goroutine pinned to its P, so a ticket costs
// no atomic read-modify-write and no shared line: one shared counter is
// one line that every core writes on every pick (at 2 Ps a Pick+Done cost
// 3.3 times its serial cost), and even an uncontended atomic add on it
// costs more than the rest of the pick.
//
// Exact cycles. While picks come from one P at a time, that P owns the
// cursor: its stripe holds the next ticket. A pick from another P takes
// the cursor over and continues from the owner's position, so a pool used
// by one goroutine at a time (even one that moves between Ps) cycles
// exactly: endpoint 0, 1, ..., n-1, 0, .... Hand-overs come one per
// migration when use is serial, and on almost every pick when Ps
// interleave; a hand-over within handOverSpan tickets of the last one
// switches the table to stripes, where every P draws from its own stripe
// (the P that switches moves half a cycle away from the last owner, so two
// Ps do not walk the same endpoints in step). Every stripeSpell tickets a
// stripe hands out, the table tries one cursor again. Each stripe is an
// exact cycle broken only by hand-overs, so the endpoints' shares differ
// by a few tickets per hand-over at most.

// roundRobinTickets is how many tickets a round robin draws before it
// scans: with a share f of endpoints ejected, a scan happens with
// probability f^4.
const roundRobinTickets = 4

// stripeSpell is how many tickets a stripe hands out before the table
// tries one cursor again: a power of two.
const stripeSpell = 1 << 16

// handOverSpan is how close two hand-overs of the cursor, in tickets, mark
// interleaved picks rather than a goroutine that moved.
const handOverSpan = 256

// noOwner is the owner of a cursor nobody holds yet.
const noOwner = -1

// setup computes the remainder's magic number, makes a stripe per P
// (rounded up to a power of two), and carries the cursor and the stripes
// over from prev, so membership churn does not favour the first endpoints.
func (t *roundRobinTable) setup(prev *roundRobinTable, _ tableEnv) {
	n := len(t.slots)
	if n > 0 {
		t.magic = ^uint64(0)/uint64(n) + 1
	}
	if prev != nil {
		t.next.Store(prev.next.Load())
		t.owner.Store(prev.owner.Load())
		t.handed.Store(prev.handed.Load())
		t.striped.Store(prev.striped.Load())
		t.stripes = make([]stripe, len(prev.stripes))
		for i := range t.stripes {
			t.stripes[i].next = atomic.LoadUint64(&prev.stripes[i].next)
		}
		return
	}
	t.owner.Store(noOwner)
	t.stripes = stripesPerProc()
}

// at maps ticket k to a slot index.
func (t *roundRobinTable) at(k uint64) int {
	return int(fastmod(uint32(k), t.magic, uint32(len(t.slots))))
}

// ticket hands out the next ticket: from the current P's stripe if the
// table is striped or the P owns the cursor, else by taking the cursor
// over. A P past the stripes (GOMAXPROCS grew since the first table)
// shares one atomic counter.
func (t *roundRobinTable) ticket() uint64 {
	pid := procPin()
	var k uint64
	switch {
	case pid >= len(t.stripes):
		k = t.next.Add(1) - 1
	case t.striped.Load():
		if k = t.stripes[pid].take(); k%stripeSpell == stripeSpell-1 {
			t.owner.Store(int32(pid))
			t.striped.Store(false)
		}
	case t.owner.Load() == int32(pid):
		k = t.stripes[pid].take()
	default:
		k = t.takeOver(pid)
	}
	procUnpin()
	return k
}

// takeOver moves the cursor to P pid's stripe and returns the ticket after
// the last owner's; a hand-over close after the last one stripes the table.
// The caller is pinned to pid.
func (t *roundRobinTable) takeOver(pid int) uint64 {
	k := t.next.Load()
	o := t.owner.Swap(int32(pid))
	if o >= 0 && int(o) < len(t.stripes) {
		k = atomic.LoadUint64(&t.stripes[o].next)
	}
	if last := t.handed.Swap(k); o >= 0 && k-last < handOverSpan {
		k += uint64(len(t.slots) / 2) // half a cycle from the last owner
		t.striped.Store(true)
	}
	t.stripes[pid].set(k + 1)
	return k
}

// pick hands out the next ticket whose endpoint is up, or returns nil when
// none is.
func (t *roundRobinTable) pick() *core {
	if len(t.slots) == 0 {
		return nil
	}
	var k uint64
	for range roundRobinTickets {
		if k = t.ticket(); t.slots[t.at(k)].pickable() {
			return &t.slots[t.at(k)].core
		}
	}
	// Every ticket missed: walk on from the last one, and spend the tickets
	// walked over with it so the next Pick does not repeat them.
	for j := uint64(1); j <= uint64(len(t.slots)); j++ {
		if s := t.slots[t.at(k+j)]; s.pickable() {
			t.skip(j)
			return &s.core
		}
	}
	return t.view.scanFrom(t.at(k))
}

// skip spends j tickets of the cursor the current P draws from, if it
// still draws from one.
func (t *roundRobinTable) skip(j uint64) {
	if pid := procPin(); pid < len(t.stripes) && (t.striped.Load() || t.owner.Load() == int32(pid)) {
		s := &t.stripes[pid]
		s.set(s.peek() + j)
	}
	procUnpin()
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
