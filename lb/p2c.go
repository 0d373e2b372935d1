package lb

import "github.com/nanolb/nanolb/internal/fastrand"

// P2C, the power of two choices (Mitzenmacher, 2001): two endpoints drawn
// uniformly among those that are up, and the one with the lower load wins
// (streakLoad: the in-flight count, doubled per failure in a row). Its
// table is the shared slot list and nothing else.

// pick chooses the less loaded of two endpoints drawn uniformly among those
// that are up, or returns nil when none is.
func (t *p2cTable) pick() *core { return t.pickWith(fastrand.Uint63()) }

// pickWith is pick for the random word r (63 bits), which zone routing
// shares with its own draw. The common case, two endpoints up with no
// failure streak (health words 0), is inline; anything else goes to slow.
func (t *p2cTable) pickWith(r uint64) *core {
	slots := t.slots
	if len(slots) < 2 {
		return t.view.lone()
	}
	i, j := pair(r, uint32(len(slots)))
	a, b := slots[i], slots[j]
	if a.health.Load()|b.health.Load() != 0 {
		return t.slow(i, j)
	}
	// A select the compiler can turn into a conditional move: loads are random.
	w := a
	if b.inFlight() < a.inFlight() {
		w = b
	}
	return &w.core
}

// slow is pick when a drawn candidate has a failure streak or is not up: a
// pair that is up is compared by streakLoad; otherwise whole pairs are
// drawn again, and a pair that still fails is mended.
func (t *p2cTable) slow(i, j uint32) *core {
	less := func(b, a int) bool { return t.slots[b].load() < t.slots[a].load() }
	v := t.view
	if !bothUp(v.cores[i], v.cores[j]) {
		var ok bool
		if i, j, ok = v.drawPair(); !ok {
			return v.mendPair(i, j, less)
		}
	}
	if less(int(j), int(i)) {
		return v.cores[j]
	}
	return v.cores[i]
}
