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

func newView(members []member) *view {
	v := &view{
		cores:     make([]*core, len(members)),
		up:        make([]atomic.Uint64, (len(members)+63)/64),
		deadlines: make([]atomic.Int64, len(members)),
	}
	for i, m := range members {
		v.cores[i] = m.c
	}
	return v
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
		deadline := int64(never)
		switch stateOf(h) {
		case stateUp:
			word.Or(bit)
		case stateEjected, stateProbing:
			deadline = deadlineOf(h)
			word.And(^bit)
		default:
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

// countUp is drawUp by counting the health words themselves: two passes.
func countUp(cores []*core, skip int) int {
	up := 0
	for i, c := range cores {
		if i != skip && c.pickable() {
			up++
		}
	}
	if up == 0 {
		return -1
	}
	want, last := randn(up), -1
	for i, c := range cores {
		if i != skip && c.pickable() {
			if want == 0 {
				return i
			}
			want, last = want-1, i
		}
	}
	return last // states changed between the passes
}
