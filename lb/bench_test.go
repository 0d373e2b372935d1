package lb

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nanolb/nanolb/internal/fastrand"
	"golang.org/x/sys/cpu"
)

// paddedCounter is reference (a): a counter alone on its cache line.
type paddedCounter struct {
	_ cpu.CacheLinePad
	n atomic.Int64
	_ cpu.CacheLinePad
}

func addrs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.%d.%d.%d:8080", i>>16, i>>8&255, i&255)
	}
	return out
}

var (
	benchSizes   = []int{8, 64, 1024, 10000}
	benchEjected = []int{0, 10, 50}
)

// ejectShare ejects percent of p's endpoints, spread evenly, with a
// deadline far enough away that no probe happens during a benchmark.
func ejectShare(p *Pool, percent int) {
	all := p.view.Load().cores
	k := len(all) * percent / 100
	for i := range k {
		c := all[i*len(all)/k]
		c.health.Store(healthWord(stateEjected, 0, 1, deadlineMax))
		p.counts.ejected.Add(1)
		p.track(c)
	}
}

// pickDone is the body of every serial Pick+Done benchmark: Pick and
// Done(nil) on p, b.Loop times.
func pickDone(b *testing.B, p *Pool) {
	b.ReportAllocs()
	for b.Loop() {
		l, err := p.Pick()
		if err != nil {
			b.Fatal(err)
		}
		l.Done(nil)
	}
	opsPerSec(b)
}

func opsPerSec(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func referenceAdds(b *testing.B) {
	var c paddedCounter
	b.ReportAllocs()
	for b.Loop() {
		c.n.Add(1)
		c.n.Add(-1)
	}
	opsPerSec(b)
}

// floorRoundRobin is the least any round robin that counts in-flight
// leases can do over n endpoints: a ticket add, then the in-flight add and
// subtract, on counters alone on their cache lines. The floors are plain
// functions called from the benchmark closure: written as closures returned
// by a function, the same loop measured twice as slow (11 ns against 5.3 ns
// for floorP2C at n=8).
func floorRoundRobin(b *testing.B, n int) {
	var ticket paddedCounter
	cs := make([]paddedCounter, n)
	magic := ^uint64(0)/uint64(n) + 1
	b.ReportAllocs()
	for b.Loop() {
		c := &cs[fastmod(uint32(ticket.n.Add(1)), magic, uint32(n))]
		c.n.Add(1)
		c.n.Add(-1)
	}
	opsPerSec(b)
}

// floorCounter is a padded counter with a down flag on its line.
type floorCounter struct {
	_    cpu.CacheLinePad
	n    atomic.Int64
	down atomic.Bool
	_    cpu.CacheLinePad
}

// floorP2C is the least a P2C that counts in-flight leases can do over n
// endpoints with percent of them down: one random word for two distinct
// indexes, drawn again while either is down (uniform over pairs that are
// up), two loads, an add and a subtract, on one contiguous array of padded
// counters.
func floorP2C(b *testing.B, n, percent int) {
	cs := make([]floorCounter, n)
	if k := n * percent / 100; k > 0 {
		for i := range k {
			cs[i*n/k].down.Store(true)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		i, j := pair(fastrand.Uint63(), uint32(n))
		for cs[i].down.Load() || cs[j].down.Load() {
			i, j = pair(fastrand.Uint63(), uint32(n))
		}
		w := &cs[i]
		if cs[j].n.Load() < w.n.Load() {
			w = &cs[j]
		}
		w.n.Add(1)
		w.n.Add(-1)
	}
	opsPerSec(b)
}

// BenchmarkPickDone measures one Pick and its Done(nil) for every policy,
// size and share of ejected endpoints, against reference (a), two atomic
// adds on a counter alone on its cache line, in the same run; and against
// the floors of round robin and P2C at each size.
func BenchmarkPickDone(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("policy=reference/n=%d/ejected=0%%", n), referenceAdds)
		b.Run(fmt.Sprintf("policy=floor-round_robin/n=%d/ejected=0%%", n), func(b *testing.B) { floorRoundRobin(b, n) })
		for _, ej := range benchEjected {
			b.Run(fmt.Sprintf("policy=floor-p2c/n=%d/ejected=%d%%", n, ej), func(b *testing.B) { floorP2C(b, n, ej) })
		}
		for _, pol := range Policies() {
			for _, ej := range benchEjected {
				b.Run(fmt.Sprintf("policy=%s/n=%d/ejected=%d%%", pol, n, ej), func(b *testing.B) {
					p := mustNew(b, Config{Policy: pol, MaxEjectedPercent: 100}, addrs(n)...)
					ejectShare(p, ej)
					pickDone(b, p)
				})
			}
		}
	}
}

// BenchmarkPickDoneParallel is BenchmarkPickDone on every P at once: the
// reference then shares nothing (one padded counter per goroutine), while a
// pool's goroutines share its endpoints.
func BenchmarkPickDoneParallel(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("policy=reference/n=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				c := new(paddedCounter)
				for pb.Next() {
					c.n.Add(1)
					c.n.Add(-1)
				}
			})
			opsPerSec(b)
		})
		for _, pol := range Policies() {
			b.Run(fmt.Sprintf("policy=%s/n=%d", pol, n), func(b *testing.B) {
				p := mustNew(b, Config{Policy: pol}, addrs(n)...)
				b.ReportAllocs()
				b.ResetTimer() // the pool's construction is not the benchmark
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						l, err := p.Pick()
						if err != nil {
							panic(err)
						}
						l.Done(nil)
					}
				})
				opsPerSec(b)
			})
		}
	}
}

// BenchmarkRegistryPick is Pick by name through a registry of 100 pools.
func BenchmarkRegistryPick(b *testing.B) {
	r := NewRegistry()
	for i := range 100 {
		if _, err := r.Ensure(fmt.Sprint("service-", i), Config{}, addrs(8)...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		p, _ := r.Get("service-42")
		l, err := p.Pick()
		if err != nil {
			b.Fatal(err)
		}
		l.Done(nil)
	}
	opsPerSec(b)
}

// BenchmarkDoneFailure is Pick then Done(err): the failure path, streak
// updates included (EjectAfter 255 keeps endpoints in, so it is measured in
// steady state).
func BenchmarkDoneFailure(b *testing.B) {
	for _, pol := range []Policy{P2C, RoundRobin} {
		b.Run(fmt.Sprintf("policy=%s/n=8", pol), func(b *testing.B) {
			p := mustNew(b, Config{Policy: pol, EjectAfter: 255}, addrs(8)...)
			b.ReportAllocs()
			for b.Loop() {
				l, _ := p.Pick()
				l.Done(errBackend)
			}
			opsPerSec(b)
		})
	}
}

// BenchmarkPickDuringChurn picks while another goroutine adds and removes
// an endpoint as fast as it can.
func BenchmarkPickDuringChurn(b *testing.B) {
	for _, pol := range []Policy{P2C, RoundRobin} {
		b.Run(fmt.Sprintf("policy=%s/n=64", pol), func(b *testing.B) {
			p := mustNew(b, Config{Policy: pol}, addrs(64)...)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = p.Add("churn:1")
					_ = p.Remove("churn:1")
				}
			})
			pickDone(b, p) // b.Loop stops the timer before the churn does
			close(stop)
			wg.Wait()
		})
	}
}
