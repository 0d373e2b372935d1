package lb

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/internal/keyhash"
)

func keyOwners(t *testing.T, p *Pool, keys int) []string {
	t.Helper()
	out := make([]string, keys)
	for k := range keys {
		l, err := p.PickKey(fmt.Sprint("user-", k))
		if err != nil {
			t.Fatal(err)
		}
		out[k] = l.Endpoint()
		l.Done(nil)
	}
	return out
}

func TestConsistentHashRoutesAKeyToTheSameEndpoint(t *testing.T) {
	p := mustNew(t, Config{Policy: ConsistentHash}, addrs(10)...)
	first, second := keyOwners(t, p, 2000), keyOwners(t, p, 2000)
	spread := map[string]int{}
	for k := range first {
		if first[k] != second[k] {
			t.Fatalf("key %d moved from %s to %s with no membership change", k, first[k], second[k])
		}
		spread[first[k]]++
	}
	if len(spread) != 10 {
		t.Fatalf("2000 keys reached only %d of 10 endpoints", len(spread))
	}
	again := mustNew(t, Config{Policy: ConsistentHash}, addrs(10)...)
	if other := keyOwners(t, again, 2000); fmt.Sprint(other) != fmt.Sprint(first) {
		t.Fatal("two pools with the same endpoints route keys differently")
	}
	a, _ := p.PickKeyUint64(42)
	a.Done(nil)
	b, _ := p.PickKeyUint64(42)
	b.Done(nil)
	if a.Endpoint() != b.Endpoint() {
		t.Fatal("numeric key moved")
	}
}

// Adding one endpoint to n should move about 1/(n+1) of the keys, nearly
// all of them to the new endpoint. Maglev is not strictly monotone: a few
// keys also move between old endpoints (docs/design-hashing.md). The test
// allows the new endpoint 0.75..1.25 of the ideal share and all moves
// together twice it.
func TestConsistentHashAddingAnEndpointMovesAFewKeys(t *testing.T) {
	const keys = 100000
	for _, n := range []int{10, 100} {
		p := mustNew(t, Config{Policy: ConsistentHash}, addrs(n)...)
		before := keyOwners(t, p, keys)
		if err := p.Add("new:1"); err != nil {
			t.Fatal(err)
		}
		after := keyOwners(t, p, keys)
		moved, toNew := 0, 0
		for k := range before {
			if before[k] != after[k] {
				moved++
				if after[k] == "new:1" {
					toNew++
				}
			}
		}
		ideal := float64(keys) / float64(n+1)
		if f := float64(toNew); f < ideal*0.75 || f > ideal*1.25 {
			t.Errorf("n=%d: %d of %d keys moved to the new endpoint, ideal %.0f", n, toNew, keys, ideal)
		}
		if float64(moved) > 2*ideal {
			t.Errorf("n=%d: %d of %d keys moved, ideal %.0f", n, moved, keys, ideal)
		}
		t.Logf("adding 1 endpoint to %d moved %.2f%% of keys, %.2f%% to it (ideal %.2f%%)",
			n, 100*float64(moved)/keys, 100*float64(toNew)/keys, 100/float64(n+1))
	}
}

// At 100 equal endpoints the table gives each its share of entries to one
// entry, and keys follow: the busiest endpoint gets at most 1.1 times the
// mean number of keys.
func TestConsistentHashBalancesKeys(t *testing.T) {
	const n, keys = 100, 200000
	p := mustNew(t, Config{Policy: ConsistentHash}, addrs(n)...)
	entries := map[uint16]int{}
	lookup := p.tables.consistentHash.Load().lookup.small
	for _, s := range lookup {
		entries[s]++
	}
	for s, k := range entries {
		if k < len(lookup)/n || k > len(lookup)/n+1 {
			t.Errorf("slot %d holds %d of %d entries, want %d or %d", s, k, len(lookup), len(lookup)/n, len(lookup)/n+1)
		}
	}
	seen := map[string]int{}
	for _, a := range keyOwners(t, p, keys) {
		seen[a]++
	}
	most := 0
	for _, k := range seen {
		most = max(most, k)
	}
	if ratio := float64(most) / (keys / n); len(seen) != n || ratio > 1.1 {
		t.Fatalf("%d endpoints got keys, max/mean %.3f", len(seen), ratio)
	}
}

// An endpoint of weight w takes about w/Σw of the keys.
func TestConsistentHashHonoursWeights(t *testing.T) {
	const keys = 100000
	eps := []Endpoint{{Addr: "a:1", Weight: 1}, {Addr: "b:1", Weight: 2}, {Addr: "c:1", Weight: 3}, {Addr: "d:1", Weight: 4}}
	p, err := NewWeighted(Config{Policy: ConsistentHash}, eps...)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, a := range keyOwners(t, p, keys) {
		seen[a]++
	}
	for _, e := range eps {
		want := float64(e.Weight) / 10
		if got := float64(seen[e.Addr]) / keys; math.Abs(got-want) > 0.01 {
			t.Errorf("%s (weight %d): %.2f%% of keys, want %.0f%%", e.Addr, e.Weight, 100*got, 100*want)
		}
	}
	// A weight changed by Set applies to the table.
	eps[0].Weight = 6
	if err := p.Set(eps...); err != nil {
		t.Fatal(err)
	}
	clear(seen)
	for _, a := range keyOwners(t, p, keys) {
		seen[a]++
	}
	if got := float64(seen["a:1"]) / keys; math.Abs(got-6.0/15) > 0.01 {
		t.Errorf("after Set to weight 6: a:1 has %.2f%% of keys, want 40%%", 100*got)
	}
}

// The table depends on the membership only: pools given the same
// endpoints in another order, or through another history of Adds and
// Removes, route every key alike.
func TestConsistentHashTableIgnoresOrderAndHistory(t *testing.T) {
	as := addrs(50)
	want := keyOwners(t, mustNew(t, Config{Policy: ConsistentHash}, as...), 5000)
	reversed := slices.Clone(as)
	slices.Reverse(reversed)
	if got := keyOwners(t, mustNew(t, Config{Policy: ConsistentHash}, reversed...), 5000); !slices.Equal(got, want) {
		t.Error("reversed endpoint order routes keys differently")
	}
	p := mustNew(t, Config{Policy: ConsistentHash}, as[25:]...)
	for _, a := range as[:25] {
		if err := p.Add(a, "temp:1"); err != nil {
			t.Fatal(err)
		}
		if err := p.Remove("temp:1"); err != nil {
			t.Fatal(err)
		}
	}
	if got := keyOwners(t, p, 5000); !slices.Equal(got, want) {
		t.Error("a pool built by Adds and Removes routes keys differently")
	}
}

// The keys of an ejected owner spread over many endpoints, each taking a
// few (the key-seeded order of candidates), instead of cascading onto the
// owner's neighbour as on a ring.
func TestConsistentHashSpreadsAnEjectedOwnersKeys(t *testing.T) {
	const n, keys = 50, 20000
	p := mustNew(t, Config{Policy: ConsistentHash, EjectAfter: 1, EjectFor: time.Hour}, addrs(n)...)
	before := keyOwners(t, p, keys)
	victim := before[0]
	failTimes(t, p, victim, 1)
	after := keyOwners(t, p, keys)
	heirs, spilled := map[string]int{}, 0
	for k := range before {
		if before[k] == victim {
			heirs[after[k]]++
			spilled++
		}
	}
	most := 0
	for _, k := range heirs {
		most = max(most, k)
	}
	if len(heirs) < n/2 || float64(most) > 3*float64(spilled)/float64(n-1) {
		t.Fatalf("%d keys of the ejected endpoint went to %d endpoints, at most %d to one", spilled, len(heirs), most)
	}
}

// The table holds HashReplicas entries per endpoint, at the next of
// maglev.Size's primes; by default at most 131,101 unless there are more
// endpoints than that.
func TestMaglevSizeFollowsHashReplicas(t *testing.T) {
	for _, c := range []struct{ n, replicas, want int }{
		{1, 100, 65537}, {655, 100, 65537}, {656, 100, 131101}, {10000, 100, 1048583}, {10000, 10000, 4194319}, {100000, 100, 4194319},
		{1, 0, 65537}, {655, 0, 65537}, {656, 0, 131101}, {1311, 0, 131101}, {10000, 0, 131101}, {100000, 0, 131101}, {200000, 0, 262147},
	} {
		if got := maglevSize(c.n, c.replicas); got != c.want {
			t.Errorf("maglevSize(%d, %d) = %d, want %d", c.n, c.replicas, got, c.want)
		}
	}
}

// With leases held, no endpoint goes past ceil(c * mean): every key here
// hashes to the same place, so without the bound one endpoint takes all.
func TestConsistentHashBoundsLoad(t *testing.T) {
	const n, held = 8, 400
	p := mustNew(t, Config{Policy: ConsistentHash, HashLoadFactor: 1.25}, addrs(n)...)
	var leases []Lease
	for range held {
		l, err := p.PickKey("hot-key")
		if err != nil {
			t.Fatal(err)
		}
		leases = append(leases, l)
	}
	bound := int64(math.Ceil(1.25 * held / n))
	for _, e := range p.Endpoints() {
		if e.InFlight > bound {
			t.Errorf("%s holds %d leases, bound %d", e.Addr, e.InFlight, bound)
		}
	}
	for i := range leases {
		leases[i].Done(nil)
	}
	if p.counts.total.Load() != 0 {
		t.Fatalf("total in-flight %d after every Done", p.counts.total.Load())
	}
}

// An ejected owner's keys go to other endpoints, the keys of the others
// stay, and they come back when it recovers.
func TestConsistentHashFailsOverAndBack(t *testing.T) {
	p := mustNew(t, Config{Policy: ConsistentHash, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 20}, addrs(10)...)
	before := keyOwners(t, p, 3000)
	victim := before[0]
	failTimes(t, p, victim, 1)
	during := keyOwners(t, p, 3000)
	for k := range before {
		switch {
		case during[k] == victim:
			t.Fatalf("key %d still goes to the ejected %s", k, victim)
		case before[k] != victim && during[k] != before[k]:
			t.Fatalf("key %d of a healthy endpoint moved: %s -> %s", k, before[k], during[k])
		}
	}
	if err := p.Remove(victim); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(victim); err != nil {
		t.Fatal(err)
	}
	if after := keyOwners(t, p, 3000); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatal("keys did not come back to the recovered endpoint")
	}
}

// Found by FuzzProbeLease: probe leases that never report used to stay in
// an endpoint's in-flight count but not in the pool's total, so after two
// of them the only endpoint up sat at the load bound and Pick said
// ErrNoEndpoint. Probes are now counted like any lease, and the bound never
// refuses a pick while an endpoint is up.
func TestConsistentHashLostProbesNeverBlockTheLastEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: ConsistentHash, EjectAfter: 1, EjectFor: time.Second, MaxEjectFor: time.Second,
			ProbeTimeout: time.Second, NoJitter: true, MaxEjectedPercent: 100}, "a:1")
		failTimes(t, p, "a:1", 1)
		for range 2 { // two probes lost, then a third succeeds
			time.Sleep(time.Second)
			synctest.Wait()
			if l, _ := p.Pick(); !l.Probe() {
				t.Fatal("no probe")
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		probe, _ := p.Pick()
		if p.counts.total.Load() != 3 {
			t.Fatalf("total in-flight %d with three probe leases out, want 3", p.counts.total.Load())
		}
		probe.Done(nil)
		for range 5 {
			l, err := p.PickKey("k")
			if err != nil {
				t.Fatalf("Pick with the only endpoint up and two lost leases: %v", err)
			}
			l.Done(nil)
		}
		if p.counts.total.Load() != 2 {
			t.Fatalf("total in-flight %d, want the 2 lost probes", p.counts.total.Load())
		}
	})
}

// Pools of 65,536 endpoints or more use 32-bit table entries: the same
// table, so the same routes, as 16-bit ones.
func TestConsistentHashWideTableRoutesAlike(t *testing.T) {
	p := mustNew(t, Config{Policy: ConsistentHash}, addrs(300)...)
	narrow := p.tables.consistentHash.Load()
	wide := *narrow
	wide.lookup.small, wide.lookup.large = nil, buildMaglev[int32](narrow.view.cores, p.cfg.hashReplicas)
	if len(wide.lookup.large) != len(narrow.lookup.small) {
		t.Fatalf("32-bit table has %d entries, 16-bit %d", len(wide.lookup.large), len(narrow.lookup.small))
	}
	for e, s := range narrow.lookup.small {
		if int32(s) != wide.lookup.large[e] {
			t.Fatalf("entry %d: 16-bit table says %d, 32-bit %d", e, s, wide.lookup.large[e])
		}
	}
	for k := range uint64(1000) {
		if a, b := narrow.pickKey(keyhash.Mix64(k)), wide.pickKey(keyhash.Mix64(k)); a != b {
			t.Fatalf("key %d: %s through 16-bit entries, %s through 32-bit", k, *a.addr, *b.addr)
		}
	}
}
