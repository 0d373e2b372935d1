package lb

import "sync/atomic"

// view is one membership of a pool: its endpoints in table order, and an
// index of their health for the scans that need one — which endpoints are
// up (sampling when many are out) and when each ejected one is due (the
// probe scan). The index entries are hints: every use checks the endpoint's
// health word before acting, and every health transition brings its entries
// back in step (track), so a stale entry lives no longer than a race.
type view struct {
	cores     []*core
	up        []atomic.Uint64 // bit i%64 of up[i/64]: cores[i] is up
	deadlines []atomic.Int64  // cores[i]'s deadline if ejected or probing, else never
}

// newView builds the view of members with its index entries filled from
// their health words; publish mends the entries that raced with it.
func newView(members []member) *view {
	v := &view{
		cores:     make([]*core, len(members)),
		up:        make([]atomic.Uint64, (len(members)+63)/64),
		deadlines: make([]atomic.Int64, len(members)),
	}
	var word uint64
	for i, m := range members {
		v.cores[i] = m.c
		up, deadline := entries(m.c.health.Load())
		if up {
			word |= 1 << (i % 64)
		}
		v.deadlines[i].Store(deadline)
		if i%64 == 63 || i == len(members)-1 {
			v.up[i/64].Store(word)
			word = 0
		}
	}
	return v
}

// entries are a health word's index entries: up, and the deadline if the
// endpoint is ejected or probing, else never.
func entries(h uint64) (up bool, deadline int64) {
	switch stateOf(h) {
	case stateUp:
		return true, never
	case stateEjected, stateProbing:
		return false, deadlineOf(h)
	}
	return false, never
}

// mend is trackSlot for a slot whose entries are most likely right: it
// reads them and writes only if they disagree with the health word.
func (v *view) mend(i int) {
	up, deadline := entries(v.cores[i].health.Load())
	if (v.up[i/64].Load()>>(i%64)&1 == 1) != up || v.deadlines[i].Load() != deadline {
		v.trackSlot(i)
	}
}

// trackSlot writes slot i's index entries from its health word, then reads
// the word again and starts over if it changed: whoever writes an entry
// last has checked it against the health word after writing, so entries
// cannot stay stale.
func (v *view) trackSlot(i int) {
	c := v.cores[i]
	word, bit := &v.up[i/64], uint64(1)<<(i%64)
	for {
		h := c.health.Load()
		up, deadline := entries(h)
		if up {
			word.Or(bit)
		} else {
			word.And(^bit)
		}
		v.deadlines[i].Store(deadline)
		if c.health.Load() == h {
			return
		}
	}
}

// track brings c's entries in the current view up to date after a health
// transition. An endpoint that is not in the current view was removed, or
// is being published, and the publisher tracks every slot after it
// installs the view.
func (p *Pool) track(c *core) {
	v := p.view.Load()
	if i := int(c.index.Load()); i < len(v.cores) && v.cores[i] == c {
		v.trackSlot(i)
	}
}

// drawUp returns a uniformly drawn index of an endpoint that is up, other
// than skip (-1 skips nothing), or -1 if there is none: PopCount and Select
// over the up bitmap, checked against the health words; a linear count if
// the bitmap keeps disagreeing with them.
func (v *view) drawUp(skip int) int {
	if k := popCountUp(v.up); k > 0 {
		for range rejectTries {
			i := selectUp(v.up, randn(k))
			if i >= 0 && i != skip && v.cores[i].pickable() {
				return i
			}
		}
	}
	return countUp(v.cores, skip)
}

// countUp is drawUp by counting the health words themselves.
func countUp(cores []*core, skip int) int {
	return drawWhere(cores, func(i int, c *core) bool { return i != skip && c.pickable() })
}

// drawWhere returns a uniformly drawn index of cores for which keep holds,
// or -1 if there is none: two passes, one to count and one to find the
// drawn one (the last kept one if states changed between the passes).
func drawWhere(cores []*core, keep func(i int, c *core) bool) int {
	n := 0
	for i, c := range cores {
		if keep(i, c) {
			n++
		}
	}
	if n == 0 {
		return -1
	}
	want, last := randn(n), -1
	for i, c := range cores {
		if keep(i, c) {
			if want == 0 {
				return i
			}
			want, last = want-1, i
		}
	}
	return last
}
