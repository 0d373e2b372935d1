package subset

import (
	"cmp"
	"slices"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// PointsPerBackend is the number of points each backend has on a Ring.
// More points even out the arcs that feed each backend's load; each
// client's subset then spans more points.
const PointsPerBackend = 64

// Ring is the hash ring of one membership, from which Subset gives any
// client its subset. Build one per membership change with NewRing and
// share it: its methods only read. The zero Ring has no backends.
type Ring struct {
	points []point
	n      int // distinct backends
}

// point is one of a backend's places on the ring.
type point struct {
	h    uint64
	addr string
}

// NewRing returns the ring of backends: backend b (each distinct address
// once) has points Mix64(keyhash.String(b) + v·0x9e3779b97f4a7c15) for v
// from 0 to PointsPerBackend-1 (mod 2^64), and the ring orders all points
// by hash, equal hashes by address.
func NewRing(backends []string) *Ring {
	b := sortedSet(backends)
	pts := make([]point, 0, len(b)*PointsPerBackend)
	for _, a := range b {
		h := keyhash.String(a)
		for v := range uint64(PointsPerBackend) {
			pts = append(pts, point{keyhash.Mix64(h + v*0x9e3779b97f4a7c15), a})
		}
	}
	slices.SortFunc(pts, func(x, y point) int {
		if x.h != y.h {
			return cmp.Compare(x.h, y.h)
		}
		return cmp.Compare(x.addr, y.addr)
	})
	return &Ring{points: pts, n: len(b)}
}

// Subset returns client's subset of size backends: client starts at
// client·0x9e3779b97f4a7c15 (mod 2^64) on the ring and takes the distinct
// backends of the points from the first one at or after its start,
// clockwise and wrapping, until it has size of them; sorted.
//
// The starts of clients 0..N-1 split the ring into gaps that differ by at
// most a factor of about 2.6 whatever N is (the three-gap theorem), so
// clients numbered densely from 0 load the backends evenly; clients with
// sparse or hashed numbers load them as if starting at random.
func (r *Ring) Subset(client uint64, size int) []string {
	if size <= 0 || r.n == 0 {
		return nil
	}
	size = min(size, r.n)
	start := client * 0x9e3779b97f4a7c15
	i, _ := slices.BinarySearchFunc(r.points, start, func(p point, h uint64) int { return cmp.Compare(p.h, h) })
	out := make([]string, 0, size)
	for len(out) < size {
		a := r.points[i%len(r.points)].addr
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
		i++
	}
	slices.Sort(out)
	return out
}

// Consistent returns client's subset of size backends by the Ring rule:
// NewRing(backends).Subset(client, size). Build the Ring once to compute
// many clients' subsets of one membership.
func Consistent(client uint64, backends []string, size int) []string {
	return NewRing(backends).Subset(client, size)
}
