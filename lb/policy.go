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

// slotPtr is satisfied by every generated slot pointer type.
type slotPtr interface{ base() *core }

// choosePickable returns a uniformly chosen index of a slot that is up,
// other than skip (-1 skips nothing), or -1 if there is none: a few random
// draws, then a count and a second pass for the chosen one.
func choosePickable[S slotPtr](slots []S, skip int) int {
	for range rejectTries {
		if i := randn(len(slots)); i != skip && slots[i].base().pickable() {
			return i
		}
	}
	up := 0
	for i, s := range slots {
		if i != skip && s.base().pickable() {
			up++
		}
	}
	if up == 0 {
		return -1
	}
	want, last := randn(up), -1
	for i, s := range slots {
		if i != skip && s.base().pickable() {
			if want == 0 {
				return i
			}
			want, last = want-1, i
		}
	}
	return last // states changed between the passes
}

// upPair completes a P2C draw (i, j) in which a candidate is not up: a
// candidate that is up is kept and the other drawn again among the rest, so
// the pair stays uniform over pairs of endpoints that are up. j is -1 when
// only one endpoint is up, and i too when none is.
func upPair[S slotPtr](slots []S, i, j int) (int, int) {
	if !slots[i].base().pickable() {
		i, j = j, i
	}
	if !slots[i].base().pickable() {
		if i = choosePickable(slots, -1); i < 0 {
			return -1, -1
		}
	}
	return i, choosePickable(slots, i)
}

// p2cSlow is P2C when a sampled candidate was not up.
func p2cSlow[S slotPtr](slots []S, i, j uint32) *core {
	a, b := upPair(slots, int(i), int(j))
	switch {
	case a < 0:
		return nil
	case b >= 0 && slots[b].base().inflight.Load() < slots[a].base().inflight.Load():
		return slots[b].base()
	}
	return slots[a].base()
}

// scanFrom returns the first slot that is up at or after start, wrapping.
func scanFrom[S slotPtr](slots []S, start int) *core {
	for k := range slots {
		if c := slots[(start+k)%len(slots)].base(); c.pickable() {
			return c
		}
	}
	return nil
}
