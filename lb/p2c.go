package lb

// P2C, the power of two choices (Mitzenmacher, 2001): two endpoints drawn
// uniformly among those that are up, and the one with fewer leases in
// flight wins. Its table is the shared slot list and nothing else.

// pick chooses the less loaded of two endpoints drawn uniformly among those
// that are up, or returns nil when none is. The first draw is inline; a
// pair with an endpoint that is not up goes to slow.
func (t *p2cTable) pick() *core {
	slots := t.slots
	if len(slots) < 2 {
		return t.view.lone()
	}
	i, j := pair(rand63(), uint32(len(slots)))
	a, b := slots[i], slots[j]
	if !bothUp(&a.core, &b.core) {
		return t.slow()
	}
	// A select the compiler can turn into a conditional move: loads are random.
	w := a
	if b.inflight.Load() < a.inflight.Load() {
		w = b
	}
	return &w.core
}

// slow is pick after a drawn pair had an endpoint that was not up: whole
// pairs are drawn again, and a pair that still fails is mended.
func (t *p2cTable) slow() *core {
	i, j, ok := t.view.drawPair()
	less := func(b, a int) bool { return t.slots[b].inflight.Load() < t.slots[a].inflight.Load() }
	switch {
	case !ok:
		return t.view.mendPair(i, j, less)
	case less(int(j), int(i)):
		return t.view.cores[j]
	}
	return t.view.cores[i]
}
