package lbgrpc

import (
	"cmp"
	"slices"

	"github.com/nanolb/nanolb/internal/keyhash"
	"google.golang.org/grpc/resolver"
)

// nanolb_shard's layout. Shard i is the i-th of the resolver's endpoints in
// lb's address order (shorter first, then bytewise), whatever their
// connections: the pool is made with that layout (lb.Config.Shards), so an
// endpoint whose connection is down is an empty shard whose keys fail, and
// no other key moves. The layout changes only when the resolver's set of
// endpoints does, and then with a new pool, as lb requires. With every
// endpoint connected it numbers the shards as lb's default does, and every
// client with the same endpoints numbers them alike whatever its
// resolver's order.

// shardLayout returns the pool addresses of endpoints in shard order,
// without empty or repeated ones.
func shardLayout(endpoints []resolver.Endpoint) []string {
	addrs := make([]string, 0, len(endpoints))
	for _, e := range endpoints {
		if k := endpointKey(e); k != "" {
			addrs = append(addrs, k)
		}
	}
	slices.SortFunc(addrs, shardOrder)
	return slices.Compact(addrs)
}

// shardOrder is lb's order of shard addresses: by length, then bytewise.
func shardOrder(a, b string) int {
	if c := cmp.Compare(len(a), len(b)); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// shardOf returns the shard of key among n >= 1 shards by lb.Shard's
// published hash, lb's own code: jump consistent hash of fmix64 of
// PickKey's key hash. The picker asks only after the pool has refused the
// key, to learn which shard is out and why.
func shardOf(key string, n int) int {
	return keyhash.Jump(keyhash.Mix64(keyhash.String(key)), n)
}
