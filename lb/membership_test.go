package lb

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// A change builds its view and tables from the previous ones' compact
// arrays, not from the slots: after every step of random Add, Remove and
// Set calls (with weight changes), each is checked against the slots and
// health words.
func TestChangesKeepTheViewAndTablesInStepWithTheSlots(t *testing.T) {
	all := addrs(150) // three bitmap words
	for _, policy := range Policies() {
		t.Run(policy.String(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(policy)))
			p := mustNew(t, Config{Policy: policy, EjectAfter: 1, MaxEjectedPercent: 100}, all[:40]...)
			for step := range 200 {
				if rng.IntN(4) == 0 { // fail one endpoint: ejected, with a deadline in the view
					if l, err := p.Pick(); err == nil {
						l.Done(errBackend)
					}
				} else {
					randomChange(t, rng, p, all, true)
				}
				checkView(t, p)
				checkMembership(t, p)
				if t.Failed() {
					t.Fatalf("after step %d", step)
				}
			}
		})
	}
}

// checkMembership fails unless p's address index names exactly its view's
// endpoints and a WeightedRoundRobin table's sums are its slots' weights.
func checkMembership(t *testing.T, p *Pool) {
	t.Helper()
	v := p.view.Load()
	if len(p.index) != len(v.cores) {
		t.Errorf("index has %d addresses, view %d endpoints", len(p.index), len(v.cores))
	}
	for _, c := range v.cores {
		if p.index[*c.addr] != c {
			t.Errorf("index entry of %s is not its endpoint", *c.addr)
		}
	}
	if p.policy != WeightedRoundRobin {
		return
	}
	tab := p.tables.weightedRoundRobin.Load()
	if tab.view != v || len(tab.cumulative) != len(v.cores) {
		t.Fatalf("table for another view: %d sums, %d endpoints", len(tab.cumulative), len(v.cores))
	}
	var sum uint64
	for i, s := range tab.slots {
		sum += uint64(s.weight.Load())
		if tab.cumulative[i] != sum {
			t.Errorf("cumulative[%d] = %d, slots' weights sum to %d", i, tab.cumulative[i], sum)
		}
	}
}

func TestCopyBitsMatchesABitByBitCopy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	src := make([]atomic.Uint64, 4)
	for range 2000 {
		for i := range src {
			src[i].Store(rng.Uint64())
		}
		from := rng.IntN(256)
		to := from + rng.IntN(256-from+1)
		j := rng.IntN(256 - (to - from) + 1)
		got, want := make([]uint64, 4), make([]uint64, 4)
		got[0] = rng.Uint64() // bits already set stay set
		want[0] = got[0]
		copyBits(got, j, src, from, to)
		for k := from; k < to; k++ {
			want[(j+k-from)/64] |= (src[k/64].Load() >> (k % 64) & 1) << ((j + k - from) % 64)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("copyBits(%d, %d..%d) = %x, want %x", j, from, to, got, want)
		}
	}
}

// A pool that is never empty never answers ErrNoEndpoint, while Set
// replaces its whole membership back to back: a pick whose table or view
// changed under it tries again on the new one, for every policy and every
// kind of pick.
func TestPicksDuringBackToBackSetsNeverFindThePoolEmpty(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	sets := 300
	if testing.Short() {
		sets = 100
	}
	picks := map[string]func(p *Pool, i int) (Lease, error){
		"Pick":          func(p *Pool, _ int) (Lease, error) { return p.Pick() },
		"PickKey":       func(p *Pool, i int) (Lease, error) { return p.PickKey(strconv.Itoa(i)) },
		"PickKeyUint64": func(p *Pool, i int) (Lease, error) { return p.PickKeyUint64(uint64(i)) },
		"PickExcept":    func(p *Pool, _ int) (Lease, error) { return p.PickExcept("gen0:1") },
	}
	for _, pol := range Policies() {
		for name, pick := range picks {
			t.Run(fmt.Sprintf("policy=%v/%s", pol, name), func(t *testing.T) {
				p := mustNew(t, Config{Policy: pol}, "gen0:1", "gen0:2", "gen0:3")
				var stop atomic.Bool
				var empty, ok atomic.Int64
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						for i := 0; !stop.Load(); i++ {
							l, err := pick(p, i)
							if err != nil {
								if errors.Is(err, ErrNoEndpoint) {
									empty.Add(1)
								} else {
									t.Errorf("pick: %v", err)
								}
								continue
							}
							ok.Add(1)
							l.Done(nil)
						}
					})
				}
				for g := 1; g <= sets; g++ {
					gen := fmt.Sprintf("gen%d:", g)
					if err := p.Set(Endpoint{Addr: gen + "1"}, Endpoint{Addr: gen + "2"}, Endpoint{Addr: gen + "3"}); err != nil {
						t.Fatal(err)
					}
				}
				stop.Store(true)
				wg.Wait()
				if n := empty.Load(); n != 0 {
					t.Fatalf("%d of %d picks returned ErrNoEndpoint from a pool of 3", n, n+ok.Load())
				}
			})
		}
	}
}

// lastResort, reached when the policy found nothing up in the table it
// read, leases an endpoint that is up in the current view, whatever
// MaxEjectedPercent: a pick that read the table of a membership that Set
// has since replaced finds every endpoint of it removed, while the new
// view's endpoints are up.
func TestLastResortLeasesAnEndpointUpInTheCurrentView(t *testing.T) {
	for _, pol := range Policies() {
		t.Run("policy="+pol.String(), func(t *testing.T) {
			p := mustNew(t, Config{Policy: pol, MaxEjectedPercent: 100}, "old:1", "old:2")
			if err := p.Set(Endpoint{Addr: "new:1"}, Endpoint{Addr: "new:2"}); err != nil {
				t.Fatal(err)
			}
			l, err := p.lastResort()
			if err != nil {
				t.Fatalf("lastResort: %v, want a lease on new:1 or new:2", err)
			}
			defer l.Done(nil)
			if a := l.Endpoint(); a != "new:1" && a != "new:2" {
				t.Fatalf("leased %q, want new:1 or new:2", a)
			}
		})
	}
}
