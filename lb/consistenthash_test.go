package lb

import (
	"fmt"
	"math"
	"testing"
	"testing/synctest"
	"time"
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

// Adding one endpoint to n should move about 1/(n+1) of the keys, all of
// them to the new endpoint. Measured with n = 10, 100 points each, 20,000
// keys: the test allows half to twice the ideal.
func TestConsistentHashAddingAnEndpointMovesAFewKeys(t *testing.T) {
	const n, keys = 10, 20000
	p := mustNew(t, Config{Policy: ConsistentHash}, addrs(n)...)
	before := keyOwners(t, p, keys)
	if err := p.Add("new:1"); err != nil {
		t.Fatal(err)
	}
	after := keyOwners(t, p, keys)
	moved := 0
	for k := range before {
		if before[k] != after[k] {
			moved++
			if after[k] != "new:1" {
				t.Fatalf("key %d moved between old endpoints: %s -> %s", k, before[k], after[k])
			}
		}
	}
	ideal := float64(keys) / (n + 1)
	if f := float64(moved); f < ideal/2 || f > ideal*2 {
		t.Fatalf("%d of %d keys moved, ideal %.0f", moved, keys, ideal)
	}
	t.Logf("adding 1 endpoint to %d moved %.2f%% of keys (ideal %.2f%%)", n, 100*float64(moved)/keys, 100/float64(n+1))
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

// An ejected owner's keys go to the next endpoint on the ring and come back
// when it recovers.
func TestConsistentHashFailsOverAlongTheRingAndBack(t *testing.T) {
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
