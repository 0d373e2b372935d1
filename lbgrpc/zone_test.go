package lbgrpc

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/discovery"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/resolver"
)

func TestWithZone(t *testing.T) {
	e := endpoints([]*server{{addr: "a"}})[0]
	if z := Zone(e); z != "" {
		t.Fatalf("Zone of an endpoint without one = %q, want \"\"", z)
	}
	e, err := WithWeight(e, 3)
	if err != nil {
		t.Fatal(err)
	}
	z, err := WithZone(e, "us-east-1a")
	if err != nil || Zone(z) != "us-east-1a" || Weight(z) != 3 {
		t.Fatalf("WithZone = zone %q, weight %d, %v; want us-east-1a, the weight kept", Zone(z), Weight(z), err)
	}
	if _, err := WithZone(e, strings.Repeat("z", lb.MaxZoneLen)); err != nil {
		t.Fatalf("WithZone of lb.MaxZoneLen bytes: %v", err)
	}
	long, err := WithZone(z, strings.Repeat("z", lb.MaxZoneLen+1))
	if !errors.Is(err, lb.ErrAddress) || Zone(long) != "us-east-1a" {
		t.Fatalf("WithZone of a zone too long = zone %q, %v; want e unchanged and lb.ErrAddress", Zone(long), err)
	}
}

// setWatch records the members a balancer's pool.Set was given, by
// address, from the newest Set.
type setWatch struct {
	mu   sync.Mutex
	last map[string]lb.Endpoint
}

func (s *setWatch) record(eps []lb.Endpoint) {
	m := make(map[string]lb.Endpoint, len(eps))
	for _, e := range eps {
		m[e.Addr] = e
	}
	s.mu.Lock()
	s.last = m
	s.mu.Unlock()
}

// is reports whether the newest Set gave exactly want's endpoints.
func (s *setWatch) is(want map[string]lb.Endpoint) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Equal(s.last, want)
}

func (s *setWatch) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return describeSet(s.last)
}

func describeSet(m map[string]lb.Endpoint) string {
	var parts []string
	for _, a := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s weight %d zone %q", a, m[a].Weight, m[a].Zone))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// registerSetWatch registers a test balancer for policy whose every
// pool.Set is recorded.
func registerSetWatch(policy lb.Policy) (string, *poolWatch, *setWatch) {
	name, w := registerTest(policy)
	s := new(setWatch)
	balancer.Get(name).(*builder).testHookSet = s.record
	return name, w, s
}

// waitSet waits until the newest Set gave want.
func waitSet(t *testing.T, s *setWatch, want map[string]lb.Endpoint) {
	t.Helper()
	eventually(t, "the pool set to "+describeSet(want), func() bool { return s.is(want) })
}

// Zones a resolver sets with WithZone reach the pool's members, and a
// resolver update that moves an endpoint to another zone moves it in the
// pool; endpoints without a zone join with none.
func TestBalancerCarriesZonesToThePool(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 3)
	name, w, sets := registerSetWatch(lb.P2C)
	zoned := func(zones ...string) []resolver.Endpoint {
		eps := endpoints(servers)
		for i, z := range zones {
			if z == "" {
				continue
			}
			var err error
			if eps[i], err = WithZone(eps[i], z); err != nil {
				t.Fatal(err)
			}
		}
		return eps
	}
	_, r := dial(t, name, "", w, zoned("us-east-1a", "us-east-1b", "")...)
	waitReady(t, w, 3)
	waitSet(t, sets, map[string]lb.Endpoint{
		servers[0].addr: {Addr: servers[0].addr, Weight: 1, Zone: "us-east-1a"},
		servers[1].addr: {Addr: servers[1].addr, Weight: 1, Zone: "us-east-1b"},
		servers[2].addr: {Addr: servers[2].addr, Weight: 1},
	})

	r.UpdateState(resolver.State{Endpoints: zoned("us-east-1a", "us-east-1a", "us-east-1c")})
	waitSet(t, sets, map[string]lb.Endpoint{
		servers[0].addr: {Addr: servers[0].addr, Weight: 1, Zone: "us-east-1a"},
		servers[1].addr: {Addr: servers[1].addr, Weight: 1, Zone: "us-east-1a"},
		servers[2].addr: {Addr: servers[2].addr, Weight: 1, Zone: "us-east-1c"},
	})
}

// The package's own resolver passes each lb.Endpoint's zone, with its
// weight, through gRPC to the balancer's pool.
func TestResolverCarriesZonesToThePool(t *testing.T) {
	noGoroutinesLeft(t)
	servers := startServers(t, 2)
	res := discovery.Static{
		{Addr: servers[0].addr, Weight: 3, Zone: "us-east-1a"},
		{Addr: servers[1].addr, Zone: "us-east-1b"},
	}
	name, w, sets := registerSetWatch(lb.WeightedRoundRobin)
	dialDiscovery(t, res, discovery.Config{}, name, w)
	waitReady(t, w, 2)
	waitSet(t, sets, map[string]lb.Endpoint{
		servers[0].addr: {Addr: servers[0].addr, Weight: 3, Zone: "us-east-1a"},
		servers[1].addr: {Addr: servers[1].addr, Weight: 1, Zone: "us-east-1b"},
	})
}

// The resolver's target refuses a zone too long, as lb.Pool.Set would.
func TestResolverTargetRejectsAZoneTooLong(t *testing.T) {
	target := &ccTarget{}
	err := target.Set(lb.Endpoint{Addr: "127.0.0.1:1", Zone: strings.Repeat("z", lb.MaxZoneLen+1)})
	if !errors.Is(err, lb.ErrAddress) || target.applied() {
		t.Fatalf("Set of a zone too long = %v, applied %v; want lb.ErrAddress and nothing applied", err, target.applied())
	}
}
