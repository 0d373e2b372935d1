package lb

import (
	"sync/atomic"

	"github.com/nanolb/nanolb/internal/fastrand"
)

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
	if old == nil {
		old = &view{}
	}
	n := len(old.cores) - ch.gone + len(ch.added)
	v := &view{
		cores:     make([]*core, n),
		up:        make([]atomic.Uint64, (n+63)/64),
		deadlines: make([]atomic.Int64, n),
	}
	// v is not published yet: its words are written plainly, and the up
	// bitmap is built in bits and stored once per word.
	bits := make([]uint64, len(v.up))
	deadlines := int64s(v.deadlines)
	j, from := 0, 0
	for i := 0; i <= len(old.cores); i++ {
		if i < len(old.cores) && (ch.drop == nil || !ch.drop[i]) {
			continue
		}
		// old's members from..i-1 stay: copy them as one run.
		copy(v.cores[j:], old.cores[from:i])
		copyBits(bits, j, old.up, from, i)
		for k := from; k < i; k++ {
			deadlines[j] = old.deadlines[k].Load()
			j++
		}
		from = i + 1
	}
	for _, m := range ch.added {
		v.cores[j] = m.c
		bits[j/64] |= 1 << (j % 64)
		deadlines[j] = never
		j++
	}
	for w, b := range bits {
		v.up[w].Store(b)
	}
	return v
}

// copyBits ORs bits from..to-1 of src into dst from bit j on, up to 64 at
// a time.
func copyBits(dst []uint64, j int, src []atomic.Uint64, from, to int) {
	for k := from; k < to; {
		c := min(to-k, 64-k%64) // bits left in k's word
		b := src[k/64].Load() >> (k % 64)
		if c < 64 {
			b &= 1<<c - 1
		}
		dst[j/64] |= b << (j % 64)
		if j%64+c > 64 {
			dst[j/64+1] |= b >> (64 - j%64)
		}
		k, j = k+c, j+c
	}
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
	if p.cfg.zones.on {
		p.trackZone(c)
	}
	if p.cfg.subset.Size != 0 {
		p.subsetMoved()
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
			i := selectUp(v.up, fastrand.N(k))
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
	want, last := fastrand.N(n), -1
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
