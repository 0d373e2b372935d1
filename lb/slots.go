package lb

import (
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// cacheLine is the padding unit of generated slots: 64 bytes on amd64, 128
// on arm64 (its cores prefetch lines in pairs), as x/sys/cpu defines it.
const cacheLine = unsafe.Sizeof(cpu.CacheLinePad{})

// chunkBytes is the size of the arrays slots are allocated in: the largest
// allocation that, holding pointers, has no malloc header (Go 1.22 and
// later), so a chunk of line-sized slots starts on a line boundary.
const chunkBytes = 512

// member is a new endpoint as the membership code sees it: its core, and
// the policy's slot holding that core, for the policy's table.
type member struct {
	c    *core
	slot any
}

// change is one membership change as publish applies it: the current
// view's members to drop, by position (nil drops none; gone counts them),
// and new members to append, in order. A view is rebuilt from its
// predecessor's compact arrays, and the tables share its endpoint array
// (slotsOf), so a change reads no slot of the endpoints that stay.
type change struct {
	drop  []bool
	gone  int
	added []member
	// reweighed: Set changed the weight of an endpoint that stays, so
	// tables summing weights read them all again.
	reweighed bool
}

// slotsOf is v's endpoints as slots of type S, for a table of the pool's
// policy: every core of a pool is the first field of its policy's slot
// (newMembersOf allocates them; the generated layout guards put the core at
// offset 0), so a table shares its view's array instead of copying it. The
// array is immutable once the view is built.
func slotsOf[S any](v *view) []*S {
	return unsafe.Slice((**S)(unsafe.Pointer(unsafe.SliceData(v.cores))), len(v.cores))
}

// newSlot is a generated slot type's pointer: setup fills it.
type newSlot[S any] interface {
	*S
	setup(addr string, weight uint32) *core
}

// newMembersOf allocates a batch's slots in chunks of chunkBytes:
// consecutive chunks share a span, so a pool's slots share pages, and each
// chunk is line-aligned (no malloc header at that size). Tables hold
// pointers into the chunks, so they can be rebuilt without moving a slot.
func newMembersOf[S any, P newSlot[S]](endpoints []Endpoint) []member {
	out := make([]member, len(endpoints))
	perChunk := int(chunkBytes / unsafe.Sizeof(*new(S)))
	var chunk []S
	for i, e := range endpoints {
		if len(chunk) == 0 {
			chunk = make([]S, min(len(endpoints)-i, max(perChunk, 1)))
		}
		s := P(&chunk[0])
		chunk = chunk[1:]
		out[i] = member{c: s.setup(e.Addr, uint32(max(e.Weight, 1))), slot: s}
	}
	return out
}

// core holds the fields every policy's slot starts with: the lease word and
// the health word, read and written by Pick and Done, then the address (a
// pointer, so that the core leaves PeakEWMA room in one line).
// Generated slot types embed it first and pad the rest of the cache line.
type core struct {
	leases atomic.Int64 // in flight in the low 32 bits (inFlight), leases ended in the high 32 (ended)
	health atomic.Uint64
	addr   *string
	weight atomic.Uint32 // 1..MaxWeight; Set changes it in place
	index  atomic.Int32  // position in the pool's current view
	meter  *meter        // the adaptive limit's, set before the endpoint is published; nil without one
}

// pickable reports whether normal selection may hand out this endpoint.
func (c *core) pickable() bool { return stateOf(c.health.Load()) == stateUp }

// bothUp is pickable for two endpoints with one branch: up is state 0.
func bothUp(a, b *core) bool { return (a.health.Load()|b.health.Load())&stateMask == stateUp }

// release takes one lease off the in-flight count. Under Done's contract
// the count cannot go below zero; a misuse that ends one lease twice (two
// copies of it) is put back at once, so the count never stays negative. A
// single atomic add, not a compare-and-swap loop, which would cost every
// Done to hide a misuse's instant.
func (c *core) release() {
	if inFlightOf(c.leases.Add(leaseEnded-1)) < 0 {
		c.leases.Add(1 - leaseEnded)
	}
}

// The lease word counts a Pick as 1 and its Done as leaseEnded − 1: one
// atomic add both ends the lease and counts it ended, which outlier
// detection reads as the endpoint's requests (outlier.go) at no cost to
// Done. In flight fits the low 32 bits (a limit is at most 1<<30); ended
// wraps, and only its differences are read.
const leaseEnded = 1 << 32

// inFlightOf is the in-flight count of a lease word.
func inFlightOf(w int64) int64 { return int64(int32(w)) }

// inFlight is the endpoint's leases in flight.
func (c *core) inFlight() int64 { return inFlightOf(c.leases.Load()) }

// ended is the endpoint's leases ended so far, modulo 2^32.
func (c *core) ended() uint32 { return uint32(uint64(c.leases.Load()) >> 32) }

// load is the endpoint's streakLoad, for an endpoint that is up.
func (c *core) load() int64 { return streakLoad(c.inFlight(), c.health.Load()) }
