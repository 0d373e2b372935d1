package lbgrpc

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/nanolb/nanolb/internal/subset"
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/resolver"
)

// ruleFuncs are internal/subset's rules by SubsetConfig.Rule's names.
var ruleFuncs = map[string]func(uint64, []string, int) []string{
	"ring":          subset.Consistent,
	"deterministic": subset.Deterministic,
	"rendezvous":    subset.Rendezvous,
}

// subsetOf keeps the endpoints lb's Subset keeps of a pool given them all,
// for every rule: the balancer connects to the members a pool of lb would
// have.
func TestSubsetOfKeepsWhatLBKeeps(t *testing.T) {
	for _, rule := range subsetRules {
		for _, n := range []int{1, 5, 12} {
			for _, size := range []int{1, 3, 5, 20} {
				t.Run(fmt.Sprintf("rule=%s/n=%d/size=%d", rule, n, size), func(t *testing.T) {
					addrs := make([]string, n)
					eps := make([]resolver.Endpoint, n)
					for i := range addrs {
						addrs[i] = fmt.Sprintf("10.0.%d.%d:443", i%3, i)
						eps[i] = resolver.Endpoint{Addresses: []resolver.Address{{Addr: addrs[i]}}}
					}
					sc := SubsetConfig{Size: size, Rule: rule}
					for client := range uint64(20) {
						pool, err := lb.New(lb.Config{Subset: sc.toLB(client)}, addrs...)
						if err != nil {
							t.Fatal(err)
						}
						var want []string
						for _, e := range pool.Endpoints() {
							want = append(want, e.Addr)
						}
						pool.Close()
						var got []string
						for _, e := range subsetOf(eps, sc, client, false) {
							got = append(got, endpointKey(e))
						}
						slices.Sort(want)
						slices.Sort(got)
						if !slices.Equal(got, want) {
							t.Fatalf("client %d: subsetOf = %v, lb keeps %v", client, got, want)
						}
					}
				})
			}
		}
	}
}

// An endpoint without an address, or with one already seen, is not
// chosen twice; no subset returns the resolver's list as it is.
func TestSubsetOfSkipsEmptyAndRepeatedEndpoints(t *testing.T) {
	ep := func(addrs ...string) resolver.Endpoint {
		e := resolver.Endpoint{}
		for _, a := range addrs {
			e.Addresses = append(e.Addresses, resolver.Address{Addr: a})
		}
		return e
	}
	eps := []resolver.Endpoint{ep("b:1", "a:1"), ep(), ep("c:1"), ep("a:1", "b:1"), ep("d:1")}
	if got := subsetOf(eps, SubsetConfig{}, 3, false); len(got) != len(eps) {
		t.Fatalf("no subset kept %d of %d", len(got), len(eps))
	}
	got := subsetOf(eps, SubsetConfig{Size: 10}, 3, false)
	var keys []string
	for _, e := range got {
		keys = append(keys, endpointKey(e))
	}
	if want := []string{"a:1,b:1", "c:1", "d:1"}; !slices.Equal(keys, want) {
		t.Fatalf("subset %v, want %v in the resolver's order", keys, want)
	}
}

// checksAt returns each server's Check count.
func checksAt(servers []*server) map[string]int64 {
	m := make(map[string]int64, len(servers))
	for _, s := range servers {
		m[s.addr] = s.checks.Load()
	}
	return m
}

// A balancer with a subset of size k over n servers connects to the k
// that the rule picks for its client index, and sends every RPC to them;
// the others never see a connection.
func TestBalancerConnectsToItsSubsetOnly(t *testing.T) {
	const n, k, client = 7, 3, 4
	for _, rule := range subsetRules {
		t.Run("rule "+rule+" picks the servers", func(t *testing.T) {
			noGoroutinesLeft(t)
			servers := startServers(t, n)
			addrs := slices.Collect(maps.Keys(byAddr(servers)))
			want := ruleFuncs[rule](client, addrs, k)
			name, w := registerTest(lb.RoundRobin, WithClientIndex(client))
			cc, _ := dial(t, name, fmt.Sprintf(`{"subset": {"size": %d, "rule": %q}}`, k, rule), w, endpoints(servers)...)
			waitReady(t, w, k)
			unary(t, cc, 60, context.Background())
			var got []string
			for _, s := range servers {
				if s.checks.Load() > 0 {
					got = append(got, s.addr)
				}
				if in := slices.Contains(want, s.addr); !in && s.accepts.Load() != 0 {
					t.Errorf("%s, outside the subset, accepted %d connections", s.addr, s.accepts.Load())
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("RPCs reached %v, want the subset %v (checks %v)", got, want, checksAt(servers))
			}
		})
	}
}

// A resolver update moves the subset as the rule does for the new list,
// and a service config's changed size changes the connections but keeps
// the pool, with the history of the endpoints that stay.
func TestBalancerSubsetFollowsTheResolverAndTheConfig(t *testing.T) {
	noGoroutinesLeft(t)
	const client = 11
	servers := startServers(t, 8)
	name, w := registerTest(lb.RoundRobin, WithClientIndex(client))
	_, r := dial(t, name, `{"subset": {"size": 3, "rule": "rendezvous"}}`, w, endpoints(servers[:5])...)
	members := func(p *lb.Pool) []string {
		var a []string
		for _, e := range p.Endpoints() {
			a = append(a, e.Addr)
		}
		slices.Sort(a)
		return a
	}
	addrsOf := func(ss []*server) []string {
		a := make([]string, len(ss))
		for i, s := range ss {
			a[i] = s.addr
		}
		return a
	}
	first := waitReady(t, w, 3)
	if got, want := members(first), subset.Rendezvous(client, addrsOf(servers[:5]), 3); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}

	r.UpdateState(resolver.State{Endpoints: endpoints(servers)})
	want := subset.Rendezvous(client, addrsOf(servers), 3)
	eventually(t, fmt.Sprintf("members %v", want), func() bool {
		return slices.Equal(members(first), want) && w.published.Load() == 3
	})

	r.UpdateState(resolver.State{
		Endpoints:     endpoints(servers),
		ServiceConfig: r.CC().ParseServiceConfig(fmt.Sprintf(`{"loadBalancingConfig": [{%q: {"subset": {"size": 5, "rule": "rendezvous"}}}]}`, name)),
	})
	want = subset.Rendezvous(client, addrsOf(servers), 5)
	eventually(t, fmt.Sprintf("members %v", want), func() bool {
		return slices.Equal(members(w.last()), want) && w.published.Load() == 5
	})
	if w.last() != first {
		t.Fatalf("a changed subset made a new pool")
	}
}
