package lb

import (
	"math"
	"sort"
)

// PickKey leases the endpoint for key: on a ConsistentHash pool, the same
// endpoint for the same key while membership is unchanged, unless that
// endpoint is out or at the load bound; other policies ignore the key. The
// hash is fixed (FNV-1a with a final mix), so clients in different
// processes with the same endpoints route a key alike.
func (p *Pool) PickKey(key string) (Lease, error) { return p.PickKeyUint64(hashString(key)) }

// PickKeyUint64 is PickKey for a numeric key, such as a user ID or an
// already hashed value.
func (p *Pool) PickKeyUint64(key uint64) (Lease, error) {
	if p.due.Load() != dueNone {
		if l, ok := p.leaseProbe(); ok {
			return l, nil
		}
	}
	return p.lease(p.pickKey(mix64(key)))
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

// buildRing places replicas points per member, at hashes of its address
// and the replica number, and returns them ascending with their owners.
func buildRing(members []member, replicas int) (ring []uint64, owner []uint32) {
	type point struct {
		at    uint64
		owner uint32
	}
	points := make([]point, 0, len(members)*replicas)
	for i, m := range members {
		base := hashString(m.c.addr)
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

// loadBound is the in-flight count at which ConsistentHash passes a key on:
// ceil(c * (total + 1) / up), counting the lease being placed, where up is
// the number of endpoints not ejected.
func (p *Pool) loadBound(n int) int64 {
	up := max(n-int(p.ejected.Load()), 1)
	return int64(math.Ceil(p.cfg.loadFactor * float64(p.total.Load()+1) / float64(up)))
}
