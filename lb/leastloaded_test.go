package lb

import "testing"

func TestLeastLoadedPicksTheMinimumLowestIndexFirst(t *testing.T) {
	as := addrs(6)
	p := mustNew(t, Config{Policy: LeastLoaded, EjectAfter: 1, MaxEjectedPercent: 50}, as...)
	// Loads 0,1,2,... then every pick must go to the least loaded, and on
	// ties to the lowest index: with leases held, picks fill the endpoints
	// level by level in index order.
	var held []Lease
	for k := range 3 * len(as) {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if want := as[k%len(as)]; l.Endpoint() != want {
			t.Fatalf("pick %d went to %s, want %s (least loaded, lowest index)", k, l.Endpoint(), want)
		}
		held = append(held, l)
	}
	held[0].Done(nil) // as[0] is now the single least loaded
	if l, _ := p.Pick(); l.Endpoint() != as[0] {
		t.Fatalf("after a release, pick went to %s, want %s", l.Endpoint(), as[0])
	}
	for i := range held {
		held[i].Done(nil)
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
