package lb

import (
	"math/rand/v2"
	"slices"
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
		if p.index[c.addr] != c {
			t.Errorf("index entry of %s is not its endpoint", c.addr)
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
