package lb

import (
	"math"
	"sort"
)

// ConsistentHash with bounded loads (Mirrokni, Thorup and Zadimoghaddam,
// 2018): each endpoint has Config.HashReplicas points on a ring, a key goes
// to the owner of the first point at or after its hash, and an owner that
// is not up or is at the load bound passes the key on along the ring. Its
// leases keep the pool's total in flight, which the bound is computed from.

// setup builds the ring and keeps the pool's counters for the bound.
func (t *consistentHashTable) setup(_ *consistentHashTable, env tableEnv) {
	t.ring, t.owner = buildRing(t.view.cores, env.cfg.hashReplicas)
	t.counts, t.loadFactor = env.counts, env.cfg.loadFactor
}

// pick routes a random key.
func (t *consistentHashTable) pick() *core { return t.pickKey(rand63()<<1 ^ rand63()) }

// pickKey returns the owner of the first ring point at or after h that is
// up and under the load bound (by streakLoad, so a failing owner passes its
// keys on early), or nil when none is up. If every owner that
// is up is at the bound (possible only while leases are lost or racing),
// the first one that is up takes the key: the bound steers load, it never
// refuses a pick.
func (t *consistentHashTable) pickKey(h uint64) *core {
	slots := t.slots
	if len(slots) == 0 {
		return nil
	}
	bound := t.loadBound()
	start := ringSearch(t.ring, h)
	var first *slot
	for k := range t.ring {
		s := slots[t.owner[(start+k)%len(t.ring)]]
		if !s.pickable() {
			continue
		}
		if s.load() < bound {
			return &s.core
		}
		if first == nil {
			first = s
		}
	}
	if first == nil {
		return nil
	}
	return &first.core
}

// begin counts the lease in the pool's total.
func (t *consistentHashTable) begin(*core) int64 {
	t.counts.total.Add(1)
	return 1
}

// end takes the lease off the pool's total.
func (t *consistentHashTable) end(*core, int64, error) { t.counts.total.Add(-1) }

// loadBound is the in-flight count at which a key is passed on:
// ceil(c * (total + 1) / up), counting the lease being placed, where up is
// the number of endpoints not ejected.
func (t *consistentHashTable) loadBound() int64 {
	up := max(len(t.slots)-int(t.counts.ejected.Load()), 1)
	return int64(math.Ceil(t.loadFactor * float64(t.counts.total.Load()+1) / float64(up)))
}

// hashString is 64-bit FNV-1a.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// mix64 is MurmurHash3's 64-bit finaliser: it spreads nearby keys (IDs
// 1, 2, 3) over the whole ring.
func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// buildRing places replicas points per endpoint, at hashes of its address
// and the replica number, and returns them ascending with their owners.
func buildRing(cores []*core, replicas int) (ring []uint64, owner []uint32) {
	type point struct {
		at    uint64
		owner uint32
	}
	points := make([]point, 0, len(cores)*replicas)
	for i, c := range cores {
		base := hashString(c.addr)
		for r := range replicas {
			points = append(points, point{mix64(base + uint64(r)*0x9e3779b97f4a7c15), uint32(i)})
		}
	}
	sort.Slice(points, func(a, b int) bool {
		if points[a].at != points[b].at {
			return points[a].at < points[b].at
		}
		return points[a].owner < points[b].owner
	})
	ring, owner = make([]uint64, len(points)), make([]uint32, len(points))
	for i, pt := range points {
		ring[i], owner[i] = pt.at, pt.owner
	}
	return ring, owner
}

// ringSearch returns the index of the first point at or after h, wrapping
// to 0 past the last.
func ringSearch(ring []uint64, h uint64) int {
	lo, hi := 0, len(ring)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ring[mid] < h {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == len(ring) {
		return 0
	}
	return lo
}
