package subset

import (
	"cmp"
	"slices"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// Rendezvous returns client's subset of size backends by rendezvous
// (highest-random-weight) hashing: each backend b weighs
// Mix64(Mix64(client) XOR keyhash.String(b)), and the subset is the size
// heaviest backends (equal weights ordered by address), sorted.
//
// A backend's weight does not depend on the others, so adding a backend
// changes only the subsets it enters (it displaces one entry each) and
// removing one changes only the subsets that held it (one entry each).
// Each backend's load is that of subsets drawn at random; use Ring for a
// rule with both properties and an even load.
func Rendezvous(client uint64, backends []string, size int) []string {
	b := sortedSet(backends)
	if size <= 0 {
		return nil
	}
	if size >= len(b) {
		return b
	}
	type weighted struct {
		w    uint64
		addr string
	}
	c := keyhash.Mix64(client)
	ws := make([]weighted, len(b))
	for i, a := range b {
		ws[i] = weighted{keyhash.Mix64(c ^ keyhash.String(a)), a}
	}
	slices.SortFunc(ws, func(x, y weighted) int {
		if x.w != y.w {
			return cmp.Compare(y.w, x.w)
		}
		return cmp.Compare(x.addr, y.addr)
	})
	out := make([]string, size)
	for i := range out {
		out[i] = ws[i].addr
	}
	slices.Sort(out)
	return out
}
