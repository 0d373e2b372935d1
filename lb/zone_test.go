package lb

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

// zoned is 18 endpoints, 6 in each of zones a, b and c: "a1".."a6", ...
func zoned() []Endpoint {
	var eps []Endpoint
	for _, z := range []string{"a", "b", "c"} {
		for i := 1; i <= 6; i++ {
			eps = append(eps, Endpoint{Addr: fmt.Sprintf("%s%d", z, i), Zone: z})
		}
	}
	return eps
}

// fleetShares is the fleet: clients 20/40/40 over zones a, b, c.
func fleetShares(t testing.TB) *ClientShares {
	s, err := NewClientShares(map[string]float64{"a": 20, "b": 40, "c": 40})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func zonePool(t testing.TB, cfg Config, eps []Endpoint) *Pool {
	t.Helper()
	p, err := NewWeighted(cfg, eps...)
	if err != nil {
		t.Fatalf("NewWeighted(%+v): %v", cfg, err)
	}
	t.Cleanup(p.Close)
	return p
}

// zonePicks picks n times, ending each lease at once, and returns each
// zone's share of the picks.
func zonePicks(t testing.TB, p *Pool, n int) map[string]float64 {
	t.Helper()
	zoneOf := map[string]string{}
	for _, e := range p.Endpoints() {
		zoneOf[e.Addr] = e.Zone
	}
	counts := map[string]int{}
	for range n {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		counts[zoneOf[l.Endpoint()]]++
		l.Done(nil)
	}
	out := map[string]float64{}
	for z, k := range counts {
		out[z] = float64(k) / float64(n)
	}
	return out
}

// ejectZone ejects the first k endpoints of zone z ("z1".."zk").
func ejectZone(t testing.TB, p *Pool, z string, k int) {
	t.Helper()
	for i := 1; i <= k; i++ {
		addr := fmt.Sprintf("%s%d", z, i)
		failTimes(t, p, addr, 1)
		if s := mustStatus(t, p, addr); s.State != Ejected {
			t.Fatalf("%s is %v after a failure with EjectAfter 1", addr, s.State)
		}
	}
}

// near fails unless got is within 0.02 (two points) of want.
func near(t testing.TB, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 0.02 {
		t.Errorf("%s = %.4f, want %.4f ± 0.02", what, got, want)
	}
}

// Envoy's rule for clients 20/40/40 against endpoints 33/33/33: zone a has
// more endpoints than clients and keeps all its picks; b and c keep
// (1/3)/0.4 of theirs and spill the rest to a, the only zone with room.
// Over the fleet a fifth of the traffic crosses zones... 0.4·(1/6)·2.
func TestZonesFollowEnvoysRule(t *testing.T) {
	const picks = 60000
	shares := fleetShares(t)
	want := map[string]map[string]float64{
		"a": {"a": 1},
		"b": {"b": 5.0 / 6, "a": 1.0 / 6},
		"c": {"c": 5.0 / 6, "a": 1.0 / 6},
	}
	cross := 0.0
	for _, policy := range []Policy{P2C, RoundRobin, LeastLoaded, WeightedRoundRobin, PeakEWMA, Random} {
		for local, w := range want {
			t.Run(fmt.Sprintf("policy=%v/local=%s", policy, local), func(t *testing.T) {
				p := zonePool(t, Config{Policy: policy, Zones: Zones{Local: local, Clients: shares}}, zoned())
				st := p.ZoneStatus()
				if !st.Active {
					t.Fatalf("ZoneStatus = %+v, want active", st)
				}
				got := zonePicks(t, p, picks)
				for _, z := range []string{"a", "b", "c"} {
					near(t, "route share of "+z, st.Shares[z], w[z])
					near(t, "picks in "+z, got[z], w[z])
				}
				if policy == P2C {
					cross += shares.share[local] * (1 - got[local])
				}
			})
		}
	}
	near(t, "the fleet's cross-zone share", cross, 0.4*(1.0/6)*2)
}

// A local zone that loses half its endpoints keeps the share its endpoints
// up can carry and spills the rest in proportion to the room elsewhere:
// with the fleet's shares all to a; assuming clients spread as endpoints
// are, evenly to a and c.
func TestZonesSpillWhenTheLocalZoneLosesHalf(t *testing.T) {
	cfg := Config{EjectAfter: 1, Outlier: Outlier{Off: true}, NoJitter: true, EjectFor: DefaultMaxEjectFor}
	for _, tc := range []struct {
		name    string
		clients *ClientShares
		before  float64 // b's share with every endpoint up
		want    map[string]float64
	}{
		// up: a 6, b 3, c 6 of 15; clients .2/.4/.4: b keeps .2/.4.
		{"fleet shares", fleetShares(t), 5.0 / 6, map[string]float64{"a": 0.5, "b": 0.5, "c": 0}},
		// clients as endpoints, 1/3 each: b keeps .2/(1/3); a and c each
		// have .4 - 1/3 of room.
		{"as endpoints", nil, 1, map[string]float64{"a": 0.2, "b": 0.6, "c": 0.2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			c.Zones = Zones{Local: "b", Clients: tc.clients}
			p := zonePool(t, c, zoned())
			near(t, "picks in b with every endpoint up", zonePicks(t, p, 20000)["b"], tc.before)
			ejectZone(t, p, "b", 3)
			st := p.ZoneStatus()
			got := zonePicks(t, p, 60000)
			for z, w := range tc.want {
				near(t, "route share of "+z, st.Shares[z], w)
				near(t, "picks in "+z, got[z], w)
			}
		})
	}
}

// In panic mode (the ejection cap reached) routing is zone-blind: each
// endpoint up gets its policy's share whatever its zone.
func TestZonesAreBlindInPanicMode(t *testing.T) {
	cfg := Config{Policy: Random, EjectAfter: 1, Outlier: Outlier{Off: true}, EjectFor: DefaultMaxEjectFor,
		Zones: Zones{Local: "b", Clients: fleetShares(t)}}
	p := zonePool(t, cfg, zoned())
	ejectZone(t, p, "b", 5)
	if !p.ZoneStatus().Active {
		t.Fatal("zone routing went blind with 5 of 18 ejected, below the cap of 9")
	}
	ejectZone(t, p, "a", 4) // 9 ejected: the cap
	if st := p.ZoneStatus(); st.Active {
		t.Fatalf("ZoneStatus = %+v at the ejection cap, want zone-blind", st)
	}
	// Up: a 2, b 1, c 6 of 9.
	got := zonePicks(t, p, 60000)
	for z, w := range map[string]float64{"a": 2.0 / 9, "b": 1.0 / 9, "c": 6.0 / 9} {
		near(t, "picks in "+z, got[z], w)
	}
}

func TestZonesNeedMinEndpointsAndForceLocalKeepsPicksHome(t *testing.T) {
	shares := fleetShares(t)
	t.Run("fewer than MinEndpoints up: zone-blind", func(t *testing.T) {
		p := zonePool(t, Config{Zones: Zones{Local: "b", Clients: shares, MinEndpoints: 19}}, zoned())
		if st := p.ZoneStatus(); st.Active {
			t.Fatalf("ZoneStatus = %+v with 18 endpoints and MinEndpoints 19", st)
		}
	})
	t.Run("ForceLocal", func(t *testing.T) {
		p := zonePool(t, Config{Zones: Zones{Local: "b", Clients: shares, ForceLocal: 6}}, zoned())
		if got := zonePicks(t, p, 20000); got["b"] != 1 {
			t.Fatalf("picks in b = %.4f with ForceLocal 6 and 6 up, want 1", got["b"])
		}
	})
	t.Run("no endpoint in the local zone: zone-blind", func(t *testing.T) {
		p := zonePool(t, Config{Zones: Zones{Local: "d", Clients: shares}}, zoned())
		if st := p.ZoneStatus(); st.Active {
			t.Fatalf("ZoneStatus = %+v with no endpoint in d", st)
		}
	})
	t.Run("a keyed policy ignores zones", func(t *testing.T) {
		p := zonePool(t, Config{Policy: ConsistentHash, Zones: Zones{Local: "b", Clients: shares}}, zoned())
		if st := p.ZoneStatus(); st.Active {
			t.Fatalf("ZoneStatus = %+v on ConsistentHash", st)
		}
	})
}

// Set moves an endpoint between zones, and membership changes rebuild the
// zones' tables: the route follows.
func TestZonesFollowMembership(t *testing.T) {
	p := zonePool(t, Config{Zones: Zones{Local: "a"}}, zoned())
	eps := zoned()
	for i := range eps[:6] {
		eps[i].Zone = "b" // zone a empties: b gets 12 of 18
	}
	if err := p.Set(eps...); err != nil {
		t.Fatal(err)
	}
	if st := p.ZoneStatus(); st.Active {
		t.Fatalf("ZoneStatus = %+v after zone a emptied, want zone-blind", st)
	}
	for _, e := range p.Endpoints() {
		if e.Addr == "a1" && e.Zone != "b" {
			t.Fatalf("a1's zone is %q after Set moved it to b", e.Zone)
		}
	}
	if err := p.Add("x"); err != nil { // a lone endpoint of zone ""
		t.Fatal(err)
	}
	if err := p.Set(append(eps, Endpoint{Addr: "a9", Zone: "a"})...); err != nil {
		t.Fatal(err)
	}
	if got := zonePicks(t, p, 5000); got["a"] != 1 {
		t.Fatalf("picks in a = %.4f with a's one endpoint up and clients as endpoints", got["a"])
	}
}

func TestZonedPickAndDoneAllocateNothing(t *testing.T) {
	cfg := Config{EjectAfter: 1, Outlier: Outlier{Off: true}, Zones: Zones{Local: "b", Clients: fleetShares(t)}}
	p := zonePool(t, cfg, zoned())
	if a := pickDoneAllocs(1000, p.Pick, nil); a != 0 {
		t.Errorf("Pick+Done with zones: %v allocations, want 0", a)
	}
	// An ejection reroutes in the failing Done.
	// AllocsPerRun runs f twice: a warm-up and the run measured.
	leases := []Lease{leaseOn(t, p, "b2"), leaseOn(t, p, "b3")}
	if a := testing.AllocsPerRun(1, func() {
		leases[0].Done(errBackend)
		leases = leases[1:]
	}); a != 0 {
		t.Errorf("a Done that ejects with zones: %v allocations, want 0", a)
	}
}

func TestZonesConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Zones: Zones{MinEndpoints: 3}},
		{Zones: Zones{Local: "a", MinEndpoints: -1}},
		{Zones: Zones{Local: "a", ForceLocal: 1<<20 + 1}},
		{Zones: Zones{Local: string(make([]byte, MaxZoneLen+1))}},
	} {
		if _, err := New(cfg, "x"); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", cfg.Zones, err)
		}
	}
	for _, w := range []map[string]float64{nil, {}, {"a": -1}, {"a": math.NaN()}, {"a": math.Inf(1)}, {"a": 0}} {
		if _, err := NewClientShares(w); !errors.Is(err, ErrConfig) {
			t.Errorf("NewClientShares(%v) = %v, want ErrConfig", w, err)
		}
	}
	if _, err := NewWeighted(Config{}, Endpoint{Addr: "x", Zone: string(make([]byte, MaxZoneLen+1))}); !errors.Is(err, ErrAddress) {
		t.Errorf("an endpoint with a zone over MaxZoneLen: %v, want ErrAddress", err)
	}
}
