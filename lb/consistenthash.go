package lb

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/nanolb/nanolb/internal/fastrand"
	"github.com/nanolb/nanolb/internal/keyhash"
)

// ConsistentHash with bounded loads (Mirrokni, Thorup and Zadimoghaddam,
// 2018) over a Maglev lookup table (Eisenbud et al., NSDI 2016): a key's
// hash (fmix64 of PickKeyUint64's key, of keyhash.String's for PickKey's;
// internal/keyhash) picks one entry of the table, and the entry names the
// endpoint. The table is a function of the membership alone (addresses and
// weights, not their order or history), so every process with the same
// endpoints routes a key alike. An owner that is not up or is at the load
// bound passes the key to a few other endpoints in an order seeded by the
// key. Its leases keep the pool's total in flight, which the bound is
// computed from.
//
// Building the table. Each endpoint has a permutation of the entries from
// two fixed hashes of its address (an offset and a step; the table size is
// prime, so every step visits every entry). Endpoints take turns, in the
// order of their address hashes, and each turn claims the next entry of the
// taker's permutation that nobody holds, until the table is full. Turns are
// dealt in proportion to weight: each endpoint has a quota of entries, its
// weight's share of the table, and each round deals it quota/rounds turns
// (Bresenham), so heavy endpoints claim several entries a round and light
// ones skip rounds, as Envoy's weighted Maglev does; with equal weights it
// is plain Maglev. Quotas make the balance exact: an endpoint holds its
// weight's share of the entries, rounded. A build costs about
// size·ln(size) probes of a bitmap of the entries held (the last free
// entries are the costly ones to find): measured with BenchmarkMaglevBuild
// on a loaded 2-core VM, 2.3 ms at 65,537 entries with 8 endpoints and
// 3.3 ms with 655, 6.9 ms at 131,101 (1,000 endpoints), 77 ms at 1,048,583
// (10,000) and 449 ms at 4,194,319 (100,000). So only tables of 65,537
// entries are built within a membership change; larger ones are built in
// the background while the previous table keeps routing
// (consistenthash_build.go), and a change costs about what it costs P2C.
//
// Maglev is not strictly monotone: adding one endpoint gives it close to
// its share, but also moves keys between the others, more so as the pool
// grows. Measured on the from-scratch tables (entries changed, of all):
// adding one to 10 moved 9.3% (ideal 9.1%, 9.0% to the new one); to 100,
// 1.6% (ideal 1.0%, 0.97% to it); to 1,000, 0.97% (ideal 0.10%, 0.10% to
// it); to 10,000, 0.16% (ideal 0.010%, 0.010% to it) at every table size
// from 131,101 to 1,048,583 entries, so at that scale more entries per
// endpoint do not move fewer keys.

// Table sizes are primes from maglevSizes: the first at least
// HashReplicas times the number of endpoints, or the last; by default at
// most defaultMaglevMax (see Config.HashReplicas). The size steps
// by doubling, not with every endpoint, because a different size
// reshuffles every key: keys move wholesale only when the pool crosses a
// step. The last caps a table at 16 MB (8 below 65,536 endpoints) and a
// build at about half a second (measured at 100,000 endpoints; the next
// size, 16,777,259, took 2.7 s and 64 MB): past 41,943 endpoints each
// holds fewer than 100 entries, and a change moves more keys than ideal.
var maglevSizes = [...]uint32{
	65537, 131101, 262147, 524309, 1048583, 2097169, 4194319,
}

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
	if s := t.lookup.owners[small[entryOf(h, len(small))]]; s.health.Load()|uint64(s.inflight.Load()) == 0 {
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
	s := l.owners[l.at(entryOf(h, l.size))]
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
	e := entryOf(keyhash.Mix64(h^0x9e3779b97f4a7c15), l.size)
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

// entryOf maps a 64-bit hash to an entry of a table of size entries: a
// multiply-shift, no division.
func entryOf(h uint64, size int) int {
	hi, _ := bits.Mul64(h, uint64(size))
	return int(hi)
}

// defaultMaglevMax is the largest table the default HashReplicas builds:
// 256 KB of 2-byte entries, which stays in a core's cache (see
// Config.HashReplicas).
const defaultMaglevMax = 131101

// maglevSize is the table size for n endpoints with replicas entries each,
// replicas 0 meaning the default: DefaultHashReplicas each, in a table of
// at most defaultMaglevMax entries, or as many as there are endpoints if
// that is more (every endpoint keeps an entry).
func maglevSize(n, replicas int) int {
	want := uint64(n) * uint64(max(replicas, 1))
	if replicas == 0 {
		want = min(uint64(n)*DefaultHashReplicas, max(defaultMaglevMax, uint64(n)))
	}
	for _, size := range maglevSizes {
		if uint64(size) >= want {
			return int(size)
		}
	}
	return int(maglevSizes[len(maglevSizes)-1])
}

// maglevTaker is one endpoint's state while the table is built.
type maglevTaker struct {
	hash  uint64 // of the address: the turn order
	slot  uint32 // index in the table's slots
	next  uint32 // the next entry of its permutation
	step  uint32 // 1..size-1
	quota uint32 // entries still to claim
	share uint64 // its weight, then its whole quota: turns per round, in 1/rounds
	acc   uint64 // turns owed, in 1/rounds (Bresenham)
}

// buildMaglev returns the lookup table for cores: entry -> index in cores,
// which T must hold.
// See the top of this file.
func buildMaglev[T uint16 | int32](cores []*core, replicas int) []T {
	if len(cores) == 0 {
		return nil
	}
	size := maglevSize(len(cores), replicas)
	takers := make([]maglevTaker, len(cores))
	var weights uint64
	for i, c := range cores {
		w := uint64(c.weight.Load())
		weights += w
		base := hashString(c.addr)
		takers[i] = maglevTaker{
			share: w,
			hash:  keyhash.Mix64(base),
			slot:  uint32(i),
			next:  uint32(entryOf(keyhash.Mix64(base^0xc2b2ae3d27d4eb4f), size)),
			step:  uint32(entryOf(keyhash.Mix64(base^0x165667b19e3779f9), size-1)) + 1,
		}
	}
	// Turn order by address hash, then address: addresses are unique, so the
	// order, and the table, do not depend on the order of cores.
	slices.SortFunc(takers, func(a, b maglevTaker) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return strings.Compare(cores[a.slot].addr, cores[b.slot].addr)
	})
	// Quotas: each weight's share of the table, rounded down; what rounding left
	// goes one entry each to the first takers in turn order.
	var dealt uint64
	for i := range takers {
		hi, lo := bits.Mul64(uint64(size), takers[i].share)
		q, _ := bits.Div64(hi, lo, weights)
		takers[i].quota = uint32(q)
		dealt += q
	}
	for i := range takers {
		if uint64(i) < uint64(size)-dealt {
			takers[i].quota++
		}
		takers[i].share = uint64(takers[i].quota)
	}
	rounds := max((uint64(size)+uint64(len(takers))-1)/uint64(len(takers)), 1)

	table := make([]T, size)
	fillMaglev(table, takers, rounds)
	return table
}

// fillMaglev deals turns to takers until table is full; see the top of
// this file. It touches only its arguments, which no other goroutine can
// see yet, so the race detector is told to skip it: instrumented, its few
// million accesses made every rebuild under -race 30 times slower.
//
//go:norace
func fillMaglev[T uint16 | int32](table []T, takers []maglevTaker, rounds uint64) {
	size := uint32(len(table))
	taken := make([]uint64, (size+63)/64)
	for claimed := uint32(0); claimed < size; {
		for i := range takers {
			k := &takers[i]
			if k.quota == 0 {
				continue
			}
			k.acc += k.share
			for k.acc >= rounds && k.quota > 0 {
				k.acc -= rounds
				e := k.next
				for taken[e/64]&(1<<(e%64)) != 0 {
					if e += k.step; e >= size {
						e -= size
					}
				}
				taken[e/64] |= 1 << (e % 64)
				table[e] = T(k.slot)
				if e += k.step; e >= size {
					e -= size
				}
				k.next = e
				k.quota--
				claimed++
			}
		}
	}
}
