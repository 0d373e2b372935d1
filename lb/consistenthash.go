package lb

import (
	"github.com/nanolb/nanolb/internal/fastrand"
	"github.com/nanolb/nanolb/internal/keyhash"
	"github.com/nanolb/nanolb/internal/maglev"
)

// ConsistentHash with bounded loads (Mirrokni, Thorup and Zadimoghaddam,
// 2018) over a Maglev lookup table (internal/maglev): a key's routing hash
// (keyhash.Mix64 of PickKeyUint64's key, of keyhash.String's for PickKey's)
// picks one entry of the table, and the entry names the endpoint. The table
// is a function of the membership alone (addresses and weights, not their
// order or history), so every process with the same endpoints routes a key
// alike. An owner that is not up or is at the load bound passes the key to
// a few other endpoints in an order seeded by the key. Its leases keep the
// pool's total in flight, which the bound is computed from. Tables of up to
// maxSyncMaglev entries are built within a membership change, larger ones
// in the background (consistenthash_build.go). docs/design-hashing.md has
// the measurements behind the sizes.

// hashCandidates is how many distinct endpoints a key tries, its owner
// first, before the load bound gives way, and hashProbes how many table
// entries it reads to find them.
const (
	hashCandidates = 8
	hashProbes     = 64
)

// setup builds the lookup table and keeps the pool's counters for the
// bound. A table past maxSyncMaglev entries is built in the background
// (consistenthash_build.go): until then this table keeps the previous one.
func (t *consistentHashTable) setup(prev *consistentHashTable, env tableEnv) {
	t.counts, t.loadFactor = env.counts, env.cfg.loadFactor
	replicas := env.cfg.hashReplicas
	if prev == nil {
		t.builds = &maglevBuilds{members: env.members, table: env.hashTable, replicas: replicas}
	} else {
		t.builds = prev.builds
	}
	if prev == nil || maglevSize(len(t.slots), replicas) <= maxSyncMaglev {
		t.lookup = newMaglevLookup(t.slots, t.view.cores, replicas)
		return
	}
	t.lookup = prev.lookup
	t.builds.request(t)
}

// pick routes a random key: 63 random bits, shifted to the top, where
// entryOf reads them.
func (t *consistentHashTable) pick() *core { return t.pickKey(fastrand.Uint63() << 1) }

// pickKey returns the owner of h's table entry if it is up and under the
// load bound (by streakLoad, so a failing owner passes its keys on early).
// Otherwise it tries up to hashCandidates distinct endpoints in all, met
// walking the table from a second entry chosen by h (so the keys an owner
// passes on spread over the pool instead of cascading to one neighbour),
// and returns the first one up and under the bound. If none is, the first
// candidate that is up takes the key: the bound steers load, it never
// refuses a pick. If no candidate is up, any endpoint up does; nil means
// none is. While a rebuild runs, the table names the previous membership:
// a removed owner is retired, so not up, and its keys go on as an ejected
// owner's do.
func (t *consistentHashTable) pickKey(h uint64) *core {
	if c := t.idleOwner(h); c != nil {
		return c
	}
	return t.pickKeyBusy(h)
}

// idleOwner is pickKey's common case: the key's owner, if it is up with no
// failure streak (health 0) and nothing in flight, which is under any
// bound, so the pool's counters need not be read; else nil. It is small
// enough for the compiler to inline into PickKey (pickHash),
// so it reads only 16-bit tables: with 32-bit entries (65,536 endpoints or
// more), or none, it returns nil.
func (t *consistentHashTable) idleOwner(h uint64) *core {
	small := t.lookup.small
	if len(small) == 0 {
		return nil
	}
	if s := t.lookup.owners[small[maglev.Entry(h, len(small))]]; s.health.Load()|uint64(uint32(s.leases.Load())) == 0 {
		return &s.core
	}
	return nil
}

// pickKeyBusy is pickKey when idleOwner found no idle owner.
func (t *consistentHashTable) pickKeyBusy(h uint64) *core {
	l := &t.lookup
	if l.size == 0 {
		return t.anyUp()
	}
	s := l.owners[l.at(maglev.Entry(h, l.size))]
	up, total := t.upAndTotal()
	if s.pickable() && t.underBound(s.load(), up, total) {
		return &s.core
	}
	return t.fallback(h, s, up, total)
}

// fallback is pickKey when the owner s is not up or at the bound.
func (t *consistentHashTable) fallback(h uint64, owner *slot, up, total int64) *core {
	l := &t.lookup
	var seen [hashCandidates]*slot
	seen[0] = owner
	found := 1
	var first *slot
	if owner.pickable() {
		first = owner
	}
	e := maglev.Entry(keyhash.Mix64(h^0x9e3779b97f4a7c15), l.size)
walk:
	for range hashProbes {
		if found == hashCandidates || found == len(l.owners) {
			break
		}
		s := l.owners[l.at(e)]
		if e++; e == l.size {
			e = 0
		}
		for _, o := range seen[:found] {
			if o == s {
				continue walk
			}
		}
		seen[found] = s
		found++
		if !s.pickable() {
			continue
		}
		if t.underBound(s.load(), up, total) {
			return &s.core
		}
		if first == nil {
			first = s
		}
	}
	if first != nil {
		return &first.core
	}
	return t.anyUp()
}

// anyUp is the last resort: an endpoint of the current membership drawn
// among those up, or nil if none is.
func (t *consistentHashTable) anyUp() *core {
	if len(t.view.cores) == 0 {
		return nil
	}
	if i := t.view.choose(-1); i >= 0 {
		return t.view.cores[i]
	}
	return nil
}

// upAndTotal reads what the bound is computed from: the number of
// endpoints not ejected (at least 1) and the pool's leases in flight.
func (t *consistentHashTable) upAndTotal() (up, total int64) {
	return max(int64(len(t.slots))-int64(t.counts.ejected.Load()), 1), t.counts.total.Load()
}

// underBound reports whether an endpoint with load may take a key: load <
// ceil(c * (total + 1) / up), counting the lease being placed, where up is
// the number of endpoints not ejected. For an integer load that is load *
// up < c * (total + 1), with no division and no rounding.
func (t *consistentHashTable) underBound(load, up, total int64) bool {
	return float64(load)*float64(up) < t.loadFactor*float64(total+1)
}

// defaultMaglevMax is the largest table the default HashReplicas builds:
// 256 KB of 2-byte entries, which stays in a core's cache (see
// Config.HashReplicas).
const defaultMaglevMax = 131101

// maglevSize is the table size for n endpoints with replicas entries each,
// replicas 0 meaning the default: DefaultHashReplicas each, in a table of
// at most defaultMaglevMax entries, or as many as there are endpoints if
// that is more (every endpoint keeps an entry). Sizes are maglev.Size's
// primes, which double: keys move wholesale only when the pool crosses a
// step.
func maglevSize(n, replicas int) int {
	want := uint64(n) * uint64(max(replicas, 1))
	if replicas == 0 {
		want = min(uint64(n)*DefaultHashReplicas, max(defaultMaglevMax, uint64(n)))
	}
	return maglev.Size(want)
}
