package lb

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

var (
	errBackend  = errors.New("backend failed")
	errCanceled = context.Canceled
)

func mustNew(t testing.TB, cfg Config, addrs ...string) *Pool {
	t.Helper()
	p, err := New(cfg, addrs...)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	t.Cleanup(p.Close) // stops an adaptive limit's evaluations
	return p
}

// leaseOn picks until it is handed addr. It holds the other leases until
// then (so P2C's loads steer it towards addr) and releases them neutrally.
func leaseOn(t testing.TB, p *Pool, addr string) Lease {
	t.Helper()
	var others []Lease
	defer func() {
		for i := range others {
			others[i].Done(context.Canceled)
		}
	}()
	for range 100000 {
		l, err := p.Pick()
		if err != nil {
			t.Fatalf("Pick while looking for %s: %v", addr, err)
		}
		if l.Endpoint() == addr {
			return l
		}
		others = append(others, l)
	}
	t.Fatalf("no Pick returned %s", addr)
	return Lease{}
}

// failTimes reports k failures on addr.
func failTimes(t testing.TB, p *Pool, addr string, k int) {
	t.Helper()
	for range k {
		l := leaseOn(t, p, addr)
		l.Done(errBackend)
	}
}

// status returns addr's snapshot; ok is false if addr is not in the pool.
func status(p *Pool, addr string) (EndpointStatus, bool) {
	for _, e := range p.Endpoints() {
		if e.Addr == addr {
			return e, true
		}
	}
	return EndpointStatus{}, false
}

func mustStatus(t testing.TB, p *Pool, addr string) EndpointStatus {
	t.Helper()
	e, ok := status(p, addr)
	if !ok {
		t.Fatalf("%s is not in the pool", addr)
	}
	return e
}

// countClock counts p's clock reads until the test ends.
func countClock(t testing.TB, p *Pool) *atomic.Int64 {
	var n atomic.Int64
	testHookClockRead = func(q *Pool) {
		if q == p {
			n.Add(1)
		}
	}
	t.Cleanup(func() { testHookClockRead = nil })
	return &n
}

// pickCounts picks k times, releasing each lease with Done(nil), and counts
// the endpoints handed out.
func pickCounts(t testing.TB, p *Pool, k int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	for range k {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		seen[l.Endpoint()]++
		l.Done(nil)
	}
	return seen
}

// holdCounts picks k times holding every lease, counts the endpoints handed
// out, then releases them all: every policy spreads held load.
func holdCounts(t testing.TB, p *Pool, k int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	held := make([]Lease, 0, k)
	for range k {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		seen[l.Endpoint()]++
		held = append(held, l)
	}
	for i := range held {
		held[i].Done(nil)
	}
	return seen
}

// randomChange changes p's membership at random among all: an Add or a
// Remove of two addresses drawn from it (either may be a no-op), or a Set
// of about two thirds of it, with weights 0 to 3 when weighted.
func randomChange(t testing.TB, rng *rand.Rand, p *Pool, all []string, weighted bool) {
	t.Helper()
	switch rng.IntN(3) {
	case 0:
		_ = p.Add(all[rng.IntN(len(all))], all[rng.IntN(len(all))])
	case 1:
		_ = p.Remove(all[rng.IntN(len(all))], all[rng.IntN(len(all))])
	default:
		var set []Endpoint
		for _, a := range all {
			if rng.IntN(3) != 0 {
				e := Endpoint{Addr: a}
				if weighted {
					e.Weight = rng.IntN(4)
				}
				set = append(set, e)
			}
		}
		if err := p.Set(set...); err != nil {
			t.Fatal(err)
		}
	}
}

// pickDoneAllocs is the average number of allocations of pick and a Done
// with outcome on its lease, over runs (testing.AllocsPerRun); a pick that
// fails panics, which fails the test.
func pickDoneAllocs(runs int, pick func() (Lease, error), outcome error) float64 {
	return testing.AllocsPerRun(runs, func() {
		l, err := pick()
		if err != nil {
			panic(err)
		}
		l.Done(outcome)
	})
}

// errNoPool is registryPick's error for a name with no pool.
var errNoPool = errors.New("no such pool")

// registryPick is Get then Pick: a per-request pick by pool name.
func registryPick(r *Registry, name string) (Lease, error) {
	p, ok := r.Get(name)
	if !ok {
		return Lease{}, errNoPool
	}
	return p.Pick()
}
