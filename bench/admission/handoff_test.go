package admission

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/nanolb/nanolb/lb"
)

// The hand-off: one slot, two goroutines. The benchmark goroutine holds the
// slot; a waiter parks for it; each iteration releases the slot and waits
// until the waiter has it and hands it back. So one iteration is two
// hand-offs from a release to a parked waiter running, measured the same
// way for nanolb's PickWait, golang.org/x/sync/semaphore and a channel of
// capacity one.

// pingPong runs b.N rounds of two hand-offs: the benchmark lets the
// waiter queue for the slot it holds, releases it to the waiter, then
// queues itself while the waiter releases it back. The same harness drives
// every implementation, so a waiter that has not parked yet when the slot
// is released favours them all alike. Beside the round's time it reports
// the hand-off latency, the measure: from the call that releases
// the slot until the waiter runs with it, over both directions: the mean
// (ns/handoff) and the median (ns/handoff-p50), which a noisy machine's
// stalls (a preempted vCPU, a GC) move far less than the mean.
func pingPong(b *testing.B, acquire func() func()) {
	b.ReportAllocs()
	release := acquire()
	turn, got, mayRelease := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var released atomic.Int64 // when the current release began
	n := b.N
	lat := make([]int64, 2*n) // each hand-off's latency: the waiter's, then the benchmark's
	go func() {
		for i := range n {
			<-turn
			r := acquire() // parks until the benchmark releases
			lat[2*i] = nanotime() - released.Load()
			got <- struct{}{}
			<-mayRelease
			released.Store(nanotime())
			r()
		}
	}()
	b.ResetTimer()
	for i := range n {
		turn <- struct{}{}
		runtime.Gosched() // let the waiter reach acquire and park
		released.Store(nanotime())
		release()
		<-got
		mayRelease <- struct{}{}
		release = acquire() // parks until the waiter releases
		lat[2*i+1] = nanotime() - released.Load()
	}
	b.StopTimer()
	release()
	var total int64
	for _, d := range lat {
		total += d
	}
	slices.Sort(lat)
	b.ReportMetric(float64(total)/float64(len(lat)), "ns/handoff")
	b.ReportMetric(float64(lat[len(lat)/2]), "ns/handoff-p50")
}

// nanotime is the monotonic clock, for the hand-off latency.
func nanotime() int64 { return int64(time.Since(epoch)) }

var epoch = time.Now()

func BenchmarkHandoff(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=nanolb-pickwait", func(b *testing.B) {
		p, err := lb.New(lb.Config{MaxConcurrency: 1}, "a:1")
		if err != nil {
			b.Fatal(err)
		}
		pingPong(b, func() func() {
			l, err := p.PickWait(ctx)
			if err != nil {
				panic(err)
			}
			return func() { l.Done(nil) }
		})
	})
	b.Run("impl=x-sync-semaphore", func(b *testing.B) {
		s := semaphore.NewWeighted(1)
		pingPong(b, func() func() {
			if err := s.Acquire(ctx, 1); err != nil {
				panic(err)
			}
			return func() { s.Release(1) }
		})
	})
	b.Run("impl=channel", func(b *testing.B) {
		s := make(chan struct{}, 1)
		pingPong(b, func() func() {
			s <- struct{}{}
			return func() { <-s }
		})
	})
}

// BenchmarkUncontended is Pick+Done with no limit and with a limit nobody
// reaches, beside the semaphores' Acquire+Release, in the same run.
func BenchmarkUncontended(b *testing.B) {
	ctx := context.Background()
	for _, limit := range []int{0, 100} {
		name := "impl=nanolb-unlimited"
		if limit > 0 {
			name = "impl=nanolb-limited"
		}
		b.Run(name, func(b *testing.B) {
			p, err := lb.New(lb.Config{MaxConcurrency: limit}, "a:1", "b:1", "c:1", "d:1", "e:1", "f:1", "g:1", "h:1")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				l, err := p.Pick()
				if err != nil {
					b.Fatal(err)
				}
				l.Done(nil)
			}
		})
	}
	b.Run("impl=x-sync-semaphore", func(b *testing.B) {
		s := semaphore.NewWeighted(100)
		b.ReportAllocs()
		for b.Loop() {
			if err := s.Acquire(ctx, 1); err != nil {
				b.Fatal(err)
			}
			s.Release(1)
		}
	})
}

// The harness really hands off: the slot goes back and forth, each side
// holding it alone, and is free at the end.
func TestPingPongHandsTheSlotBackAndForth(t *testing.T) {
	s := make(chan struct{}, 1)
	var holders, acquired atomic.Int64
	res := testing.Benchmark(func(b *testing.B) {
		pingPong(b, func() func() {
			s <- struct{}{}
			if holders.Add(1) != 1 {
				panic("two holders")
			}
			acquired.Add(1)
			return func() { holders.Add(-1); <-s }
		})
	})
	if res.N == 0 || len(s) != 0 || acquired.Load() < int64(2*res.N) {
		t.Fatalf("%d rounds, %d acquisitions, slot held %d", res.N, acquired.Load(), len(s))
	}
}
