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

// holder is one goroutine's hold on the slot under test: acquire parks
// until it has the slot, release gives it back. Each side of pingPong has
// its own holder, so a lease is kept in a field, not in a closure that
// would be allocated on the measured path.
type holder interface {
	acquire()
	release()
}

// pingPong runs b.N rounds of two hand-offs: the benchmark lets the
// waiter queue for the slot it holds, releases it to the waiter, then
// queues itself while the waiter releases it back. The same harness drives
// every implementation, so a waiter that has not parked yet when the slot
// is released favours them all alike. Beside the round's time it reports
// the hand-off latency, the measure: from the call that releases
// the slot until the waiter runs with it, over both directions: the mean
// (ns/handoff) and the median (ns/handoff-p50), which a noisy machine's
// stalls (a preempted vCPU, a GC) move far less than the mean.
func pingPong(b *testing.B, newHolder func() holder) {
	b.ReportAllocs()
	mine, theirs := newHolder(), newHolder()
	mine.acquire()
	turn, got, mayRelease := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var released atomic.Int64 // when the current release began
	n := b.N
	lat := make([]int64, 2*n) // each hand-off's latency: the waiter's, then the benchmark's
	go func() {
		for i := range n {
			<-turn
			theirs.acquire() // parks until the benchmark releases
			lat[2*i] = nanotime() - released.Load()
			got <- struct{}{}
			<-mayRelease
			released.Store(nanotime())
			theirs.release()
		}
	}()
	b.ResetTimer()
	for i := range n {
		turn <- struct{}{}
		runtime.Gosched() // let the waiter reach acquire and park
		released.Store(nanotime())
		mine.release()
		<-got
		mayRelease <- struct{}{}
		mine.acquire() // parks until the waiter releases
		lat[2*i+1] = nanotime() - released.Load()
	}
	b.StopTimer()
	mine.release()
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

// pickWaiter holds a pool's slot through PickWait and Done.
type pickWaiter struct {
	p   *lb.Pool
	ctx context.Context
	l   lb.Lease
}

func (h *pickWaiter) acquire() {
	var err error
	if h.l, err = h.p.PickWait(h.ctx); err != nil {
		panic(err)
	}
}

func (h *pickWaiter) release() { h.l.Done(nil) }

// weighted holds x/sync's semaphore.
type weighted struct {
	s   *semaphore.Weighted
	ctx context.Context
}

func (h weighted) acquire() {
	if err := h.s.Acquire(h.ctx, 1); err != nil {
		panic(err)
	}
}

func (h weighted) release() { h.s.Release(1) }

// channel holds a channel of capacity one: a send takes the slot.
type channel chan struct{}

func (h channel) acquire() { h <- struct{}{} }
func (h channel) release() { <-h }

// channelCtx is a channel holder that gives up when its context ends, as
// the other two do.
type channelCtx struct {
	s   channel
	ctx context.Context
}

func (h channelCtx) acquire() {
	select {
	case h.s <- struct{}{}:
	case <-h.ctx.Done():
		panic(h.ctx.Err())
	}
}

func (h channelCtx) release() { <-h.s }

// BenchmarkHandoff measures the hand-off with two contexts. With
// ctx=background the waits have no deadline: x/sync and the channel then
// wait for ever, while PickWait is bounded by Config.MaxWait, whose timer
// stays in the runtime's timer heap while waits come and go, and every
// scheduling round with a timer in the heap reads the clock. With
// ctx=deadline every implementation honours the same context, whose own
// timer is in the heap for all three alike, as in a server that bounds each
// request.
func BenchmarkHandoff(b *testing.B) {
	deadline, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"deadline", deadline}} {
		b.Run("ctx="+c.name+"/impl=nanolb-pickwait", func(b *testing.B) {
			p, err := lb.New(lb.Config{MaxConcurrency: 1}, "a:1")
			if err != nil {
				b.Fatal(err)
			}
			pingPong(b, func() holder { return &pickWaiter{p: p, ctx: c.ctx} })
		})
		b.Run("ctx="+c.name+"/impl=x-sync-semaphore", func(b *testing.B) {
			s := semaphore.NewWeighted(1)
			pingPong(b, func() holder { return weighted{s, c.ctx} })
		})
		b.Run("ctx="+c.name+"/impl=channel", func(b *testing.B) {
			s := make(channel, 1)
			if c.ctx == context.Background() {
				pingPong(b, func() holder { return s })
				return
			}
			pingPong(b, func() holder { return channelCtx{s, c.ctx} })
		})
	}
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
	s := make(channel, 1)
	var holders, acquired atomic.Int64
	res := testing.Benchmark(func(b *testing.B) {
		pingPong(b, func() holder { return &counted{s, &holders, &acquired} })
	})
	if res.N == 0 || len(s) != 0 || acquired.Load() < int64(2*res.N) {
		t.Fatalf("%d rounds, %d acquisitions, slot held %d", res.N, acquired.Load(), len(s))
	}
}

// counted is a channel holder that checks the slot has one holder at a
// time.
type counted struct {
	s                 channel
	holders, acquired *atomic.Int64
}

func (h *counted) acquire() {
	h.s.acquire()
	if h.holders.Add(1) != 1 {
		panic("two holders")
	}
	h.acquired.Add(1)
}

func (h *counted) release() {
	h.holders.Add(-1)
	h.s.release()
}
