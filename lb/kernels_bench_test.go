package lb

import (
	"fmt"
	"testing"
)

// BenchmarkKernelPaths measures the paths of lb that run the root
// package's kernels, for `make -C bench bench-kernels`, which runs this
// benchmark from two test binaries, one built normally and one with
// -tags purego (every kernel then the reference Go code), and prints each
// row's time in both with their ratio. Reference (a), two atomic adds on a
// counter alone on its cache line, runs in every binary, so each binary's
// rows are also read against its own floor.
//
// Rows:
//   - policy=<p>/n=<n>/ejected=50%: Pick+Done with half the endpoints
//     ejected. The policies that sample (P2C, Random) fall back to PopCount
//     and Select over the up bitmap when eight random draws all miss, 0.4%
//     of the time at 50%; at 90% (ejected=90%, MaxEjectedPercent 100) 43%
//     of the time. RoundRobin walks its tickets in Go and calls no kernel,
//     so its rows are the control that should not move.
//   - policy=probe/n=10000/ejected=50%: Pick+Done that leases the one due
//     probe among 5,000 ejected endpoints, the last one in the view, so the
//     probe scan (FirstDue over every deadline, then MinIndex to re-arm the
//     wake timer) covers all 10,000 deadlines; each iteration ejects that
//     endpoint again, already due, and raises the due flag, which a wake
//     timer would do.
//   - policy=probe-scan/n=10000/ejected=50%: the same two scans alone, over
//     the same view.
func BenchmarkKernelPaths(b *testing.B) {
	for _, n := range []int{1024, 10000} {
		b.Run(fmt.Sprintf("policy=reference/n=%d", n), referenceAdds)
		for _, ej := range []int{50, 90} {
			for _, pol := range []Policy{P2C, Random, RoundRobin} {
				b.Run(fmt.Sprintf("policy=%s/n=%d/ejected=%d%%", pol, n, ej), func(b *testing.B) {
					p := mustNew(b, Config{Policy: pol, MaxEjectedPercent: 100}, addrs(n)...)
					ejectShare(p, ej)
					pickDone(b, p)
				})
			}
		}
	}
	const n = 10000
	b.Run(fmt.Sprintf("policy=probe/n=%d/ejected=50%%", n), func(b *testing.B) {
		p := probeScanPool(b, n)
		last := p.view.Load().cores[n-1]
		b.ReportAllocs()
		for b.Loop() {
			last.health.Store(healthWord(stateEjected, 0, 1, 0)) // due since the epoch
			p.counts.ejected.Add(1)
			p.track(last)
			p.due.Store(dueRaised)
			l, err := p.Pick()
			if err != nil {
				b.Fatal(err)
			}
			if !l.Probe() || l.c != last {
				b.Fatalf("Pick leased %s (probe %v), want the due probe on %s", l.Endpoint(), l.Probe(), *last.addr)
			}
			l.Done(nil) // reinstates it
		}
		opsPerSec(b)
	})
	b.Run(fmt.Sprintf("policy=probe-scan/n=%d/ejected=50%%", n), func(b *testing.B) {
		p := probeScanPool(b, n)
		v := p.view.Load()
		v.deadlines[n-1].Store(0) // the one due deadline, last
		b.ReportAllocs()
		for b.Loop() {
			if i := firstDue(v.deadlines, 1); i != n-1 {
				b.Fatalf("firstDue = %d, want %d", i, n-1)
			}
			if i := earliest(v.deadlines); i != n-1 {
				b.Fatalf("earliest = %d, want %d", i, n-1)
			}
		}
		opsPerSec(b)
	})
}

// probeScanPool is a P2C pool of n endpoints with every other one ejected
// until far in the future (none of them due).
func probeScanPool(b *testing.B, n int) *Pool {
	p := mustNew(b, Config{Policy: P2C, MaxEjectedPercent: 100}, addrs(n)...)
	ejectShare(p, 50)
	return p
}
