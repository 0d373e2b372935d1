package lb

import (
	"math/bits"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Policy selects how a Pool picks among its endpoints that are up. The
// policies and their tables are generated from the table in gen/.
type Policy uint8

// String returns the policy's name, as grpc-go spells balancer names.
func (p Policy) String() string {
	if p.valid() {
		return policyLabels[p]
	}
	return "unknown"
}

func (p Policy) valid() bool { return int(p) < len(policyLabels) }

// cacheLine is the padding unit of generated slots: 64 bytes on amd64, 128
// on arm64 (its cores prefetch lines in pairs), as x/sys/cpu defines it.
const cacheLine = unsafe.Sizeof(cpu.CacheLinePad{})

// chunkBytes is the size of the arrays slots are allocated in: the largest
// allocation that, holding pointers, has no malloc header (Go 1.22 and
// later), so a chunk of line-sized slots starts on a line boundary.
const chunkBytes = 512

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

// roundRobinTickets is how many tickets RoundRobin draws before it scans:
// with a share f of endpoints ejected, a scan happens with probability f^4.
const roundRobinTickets = 4

// rejectTries is how many uniform draws choosePickable makes before it
// counts: with a share f of endpoints not up, it counts with probability
// f^8 (0.4% at f = 50%).
const rejectTries = 8

// fastmod returns a % d for the magic m = ^uint64(0)/d + 1 (Lemire, Kaser
// and Kurz, "Faster remainder by direct computation", 2019): two multiplies
// instead of a division on RoundRobin's path.
func fastmod(a uint32, m uint64, d uint32) uint32 {
	hi, _ := bits.Mul64(m*uint64(a), uint64(d))
	return uint32(hi)
}

// choose returns a uniformly chosen index of an endpoint that is up, other
// than skip (-1 skips nothing), or -1 if there is none: a few random
// draws, which nearly always succeed while few endpoints are out, then
// PopCount and Select over the view's bitmap of endpoints that are up.
func (v *view) choose(skip int) int {
	for range rejectTries {
		if i := randn(len(v.cores)); i != skip && v.cores[i].pickable() {
			return i
		}
	}
	return v.drawUp(skip)
}

// upPair completes a two-choice draw (i, j) in which a candidate is not up:
// a candidate that is up is kept and the other drawn again among the rest,
// so the pair stays uniform over pairs of endpoints that are up. j is -1
// when only one endpoint is up, and i too when none is.
func (v *view) upPair(i, j int) (int, int) {
	if !v.cores[i].pickable() {
		i, j = j, i
	}
	if !v.cores[i].pickable() {
		if i = v.choose(-1); i < 0 {
			return -1, -1
		}
	}
	return i, v.choose(i)
}

// p2c is P2C when a sampled candidate was not up.
func (v *view) p2c(i, j uint32) *core {
	a, b := v.upPair(int(i), int(j))
	switch {
	case a < 0:
		return nil
	case b >= 0 && v.cores[b].inflight.Load() < v.cores[a].inflight.Load():
		return v.cores[b]
	}
	return v.cores[a]
}

// scanFrom returns the first endpoint that is up at or after start,
// wrapping, or nil.
func (v *view) scanFrom(start int) *core {
	for k := range v.cores {
		if c := v.cores[(start+k)%len(v.cores)]; c.pickable() {
			return c
		}
	}
	return nil
}
