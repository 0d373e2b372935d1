package lbgrpc

import (
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/resolver"
)

// subsetOf returns client's subset of eps by s, in the resolver's order:
// the endpoints lb's Subset would keep of a pool given them all
// (lb.Subset.Of), by their pool addresses (endpointKey) and, with byZone
// (a local zone, so zone-aware routing), each zone's share of the size.
// An endpoint without an address, or with the address of one before it,
// is left out. s is checked; size 0 returns eps.
func subsetOf(eps []resolver.Endpoint, s SubsetConfig, client uint64, byZone bool) []resolver.Endpoint {
	if s.Size == 0 {
		return eps
	}
	rule, _ := s.rule()
	given := make([]lb.Endpoint, 0, len(eps))
	for _, e := range eps {
		if k := endpointKey(e); k != "" {
			given = append(given, lb.Endpoint{Addr: k, Zone: Zone(e)})
		}
	}
	chosen := lb.Subset{Size: s.Size, Client: client, Rule: rule}.Of(given, byZone)
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
