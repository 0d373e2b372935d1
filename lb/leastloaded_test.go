package lb

import "testing"

func TestLeastLoadedPicksTheMinimum(t *testing.T) {
	as := addrs(6)
	p := mustNew(t, Config{Policy: LeastLoaded, EjectAfter: 1, MaxEjectedPercent: 50}, as...)
	// With leases held, every pick must go to an endpoint of the lowest
	// load: picks fill the endpoints level by level.
	var held []Lease
	count := map[string]int{}
	for k := range 3 * len(as) {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if count[l.Endpoint()] != k/len(as) {
			t.Fatalf("pick %d went to %s, which already had %d leases (level %d)", k, l.Endpoint(), count[l.Endpoint()], k/len(as))
		}
		count[l.Endpoint()]++
		held = append(held, l)
	}
	first := held[0].Endpoint()
	held[0].Done(nil) // now the single least loaded
	if l, _ := p.Pick(); l.Endpoint() != first {
		t.Fatalf("after a release, pick went to %s, want %s", l.Endpoint(), first)
	} else {
		held[0] = l
	}
	for i := range held {
		held[i].Done(nil)
	}
}

// Ties are spread: with equal loads every endpoint gets an even share,
// where "lowest index wins" gave one endpoint everything.
func TestLeastLoadedSpreadsTies(t *testing.T) {
	p := mustNew(t, Config{Policy: LeastLoaded}, "a:1", "b:1")
	seen := pickCounts(t, p, 20000)
	if a := seen["a:1"]; a < 9000 || a > 11000 {
		t.Fatalf("two idle endpoints: %v, want 50%% ± 5%% each", seen)
	}
}

func TestLeastLoadedSkipsEndpointsThatAreNotUp(t *testing.T) {
	as := addrs(4)
	p := mustNew(t, Config{Policy: LeastLoaded, EjectAfter: 1, EjectFor: 3600e9, MaxEjectedPercent: 50}, as...)
	failTimes(t, p, as[0], 1)
	if seen := holdCounts(t, p, 30); seen[as[0]] != 0 || seen[as[1]] != 10 {
		t.Fatalf("with %s ejected: %v", as[0], seen)
	}
}
