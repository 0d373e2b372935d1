package lbgrpc

import (
	"github.com/nanolb/nanolb/internal/subset"
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/resolver"
)

// subsetOf returns client's subset of eps by s, in the resolver's order:
// the endpoints lb's Subset would keep of a pool given them all, by their
// pool addresses (endpointKey). An endpoint without an address, or with
// the address of one before it, is left out. s is checked; size 0 returns
// eps.
func subsetOf(eps []resolver.Endpoint, s SubsetConfig, client uint64) []resolver.Endpoint {
	if s.Size == 0 {
		return eps
	}
	keys := make([]string, 0, len(eps))
	for _, e := range eps {
		if k := endpointKey(e); k != "" {
			keys = append(keys, k)
		}
	}
	var chosen []string
	switch r, _ := s.rule(); r {
	case lb.SubsetDeterministic:
		chosen = subset.Deterministic(client, keys, s.Size)
	case lb.SubsetRendezvous:
		chosen = subset.Rendezvous(client, keys, s.Size)
	default:
		chosen = subset.Consistent(client, keys, s.Size)
	}
	in := make(map[string]bool, len(chosen))
	for _, k := range chosen {
		in[k] = true
	}
	out := make([]resolver.Endpoint, 0, len(chosen))
	for _, e := range eps {
		if k := endpointKey(e); in[k] {
			out = append(out, e)
			delete(in, k) // once per address
		}
	}
	return out
}
