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

// next returns the view after ch (old may be nil, for a pool's first
// view): old's kept members with their index entries copied, in order,
// then the new members, up with no deadline. It reads no slot of the
// members that stay; publish mends the entries if a health transition may
// have raced with the copy.
func (old *view) next(ch change) *view {
	var was []*core
	if old != nil {
		was = old.cores
	}
	n := len(was) - ch.gone + len(ch.added)
	v := &view{
		cores:     make([]*core, n),
		up:        make([]atomic.Uint64, (n+63)/64),
		deadlines: make([]atomic.Int64, n),
	}
	bits := make([]uint64, len(v.up))
	j := 0
	switch {
	case ch.drop == nil:
		j = copy(v.cores, was)
		for w := range (len(was) + 63) / 64 {
			bits[w] = old.up[w].Load()
		}
		for i := range was {
			v.deadlines[i].Store(old.deadlines[i].Load())
		}
	default:
		for i, c := range was {
			if ch.drop[i] {
				continue
			}
			v.cores[j] = c
			bits[j/64] |= (old.up[i/64].Load() >> (i % 64) & 1) << (j % 64)
			v.deadlines[j].Store(old.deadlines[i].Load())
			j++
		}
	}
	for _, m := range ch.added {
		v.cores[j] = m.c
		bits[j/64] |= 1 << (j % 64)
		v.deadlines[j].Store(never)
		j++
	}
	for w, b := range bits {
		v.up[w].Store(b)
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
// is being published, and the publisher mends every slot after it installs
// the view if a transition raced with it (moves).
func (p *Pool) track(c *core) {
	p.moves.begun.Add(1)
	v := p.view.Load()
	if i := int(c.index.Load()); i < len(v.cores) && v.cores[i] == c {
		v.trackSlot(i)
	}
	p.moves.ended.Add(1)
}

// moves counts the health transitions that track index entries: begun
// after the transition's compare-and-swap, ended once its entries are
// written. They tell publish whether its copy of the old view's entries
// may have missed one.
type moves struct {
	begun, ended atomic.Uint64
}

// snapshot returns the transitions begun so far, and whether all of them
// had ended. Ended is read first: if it equals begun, no transition was
// under way at the moment begun was read.
func (m *moves) snapshot() (at uint64, quiet bool) {
	ended := m.ended.Load()
	at = m.begun.Load()
	return at, at == ended
}

// since reports whether a transition began after snapshot returned at.
func (m *moves) since(at uint64) bool { return m.begun.Load() != at }

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
