package lb

import (
	"fmt"
	"testing"
)

var membershipSizes = []int{1000, 10000, 100000}

// BenchmarkMembership measures one membership change on a pool of n
// endpoints, for every policy: an Add of one endpoint, a Remove of one, and
// a Set that replaces 1% or 10% of the endpoints. The pool is built outside
// the timed region, and each change is undone untimed, so n stays fixed.
// A ConsistentHash table past maxSyncMaglev entries is built in the
// background after the change returns: the benchmark waits for the build
// untimed (settled), so that at GOMAXPROCS=1 the build's CPU does not land
// on whichever later change it happens to overlap. BenchmarkMaglevBuild
// times builds.
func BenchmarkMembership(b *testing.B) {
	for _, n := range membershipSizes {
		for _, pol := range Policies() {
			base := endpointsOf(addrs(n))
			b.Run(fmt.Sprintf("op=add/policy=%s/n=%d", pol, n), func(b *testing.B) {
				p := mustNewWeighted(b, Config{Policy: pol}, base...)
				b.ReportAllocs()
				for b.Loop() {
					if err := p.Add("new:1"); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					_ = p.Remove("new:1")
					settled(p)
					b.StartTimer()
				}
			})
			b.Run(fmt.Sprintf("op=remove/policy=%s/n=%d", pol, n), func(b *testing.B) {
				p := mustNewWeighted(b, Config{Policy: pol}, base...)
				b.ReportAllocs()
				for b.Loop() {
					if err := p.Remove(base[n/2].Addr); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					_ = p.Add(base[n/2].Addr)
					settled(p)
					b.StartTimer()
				}
			})
			for _, churn := range []int{1, 10} {
				b.Run(fmt.Sprintf("op=set-%d%%/policy=%s/n=%d", churn, pol, n), func(b *testing.B) {
					p := mustNewWeighted(b, Config{Policy: pol}, base...)
					other := append([]Endpoint(nil), base...)
					for i := range n * churn / 100 {
						other[i*100/churn] = Endpoint{Addr: fmt.Sprintf("churn-%d:1", i)}
					}
					sets := [2][]Endpoint{other, base}
					b.ReportAllocs()
					k := 0
					for b.Loop() {
						if err := p.Set(sets[k&1]...); err != nil {
							b.Fatal(err)
						}
						k++
						b.StopTimer()
						settled(p)
						b.StartTimer()
					}
				})
			}
		}
	}
}

func endpointsOf(addrs []string) []Endpoint {
	out := make([]Endpoint, len(addrs))
	for i, a := range addrs {
		out[i] = Endpoint{Addr: a}
	}
	return out
}

func mustNewWeighted(t testing.TB, cfg Config, endpoints ...Endpoint) *Pool {
	t.Helper()
	p, err := NewWeighted(cfg, endpoints...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// settled waits until a ConsistentHash pool's background table builds have
// ended; other pools have none.
func settled(p *Pool) {
	if p.policy == ConsistentHash {
		settleHash(p)
	}
}
