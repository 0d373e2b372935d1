package lb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/waitq"
)

// Admission control: Config.MaxConcurrency caps each endpoint's leases in
// flight, and PickWait queues callers, first in first out while the queue
// drains (internal/waitq sheds it when it stands), until a lease can be
// had. Nothing here runs for a pool without a limit and without waiters:
// Pick and Done switch on the pool's lease mode (lease.go), as for any
// other per-lease state.
//
// The queue (internal/waitq) holds the waiters; the pool hands them leases.
// A successful Done on an endpoint that is up, with a waiter queued, passes
// its own slot on without giving it back (passOn): waiters queue only while
// every endpoint up is at its limit, so the endpoint whose slot just freed
// is the only one below it, the policy's one choice. Everything else that
// may free a slot (any other Done, an Add, a reinstatement, a probe falling
// due, a new waiter) calls kick, which, while waiters are queued, leases by
// the policy and grants the lease to the queue's next waiter. A new Pick
// meanwhile sees waiters queued and returns ErrSaturated instead of taking
// the slot. A lease nobody is left to take, because its waiter gave up first, is ended
// neutrally, which kicks the queue again: a slot is never leaked.

// queue is PickWait's waiters.
type queue struct{ waitq.Queue[Lease] }

// waiting reports whether anyone waits: under a limit, a new Pick then
// refuses rather than overtake them.
func (q *queue) waiting() bool { return q.Len() != 0 }

// stats are admission's counters, written only off the common path.
type stats struct {
	timeouts, queueFull, saturations atomic.Uint64
	full                             atomic.Bool // an EventSaturated was the last pool event
}

// Stats is a snapshot of a pool's admission counters.
type Stats struct {
	Waiting     int    // PickWait callers queued now
	Grants      uint64 // leases handed to queued waiters
	Timeouts    uint64 // waits ended by their context or Config.MaxWait
	QueueFull   uint64 // PickWait calls refused with ErrQueueFull
	Shed        uint64 // waits failed with ErrShed (Config.WaitTarget)
	Saturations uint64 // Picks (and PickKeys, PickExcepts) that returned ErrSaturated; not PickWaits that waited
}

// Stats returns the pool's admission counters.
func (p *Pool) Stats() Stats {
	return Stats{
		Waiting:     p.queue.Len(),
		Grants:      p.queue.Granted(),
		Timeouts:    p.stats.timeouts.Load(),
		QueueFull:   p.stats.queueFull.Load(),
		Shed:        p.queue.Shed(),
		Saturations: p.stats.saturations.Load(),
	}
}

// drained emits EventDrained if the pool was saturated and nobody waits,
// after a slot was given back.
func (p *Pool) drained() {
	if p.stats.full.Load() && !p.queue.waiting() {
		o := p.ordered()
		if p.stats.full.CompareAndSwap(true, false) {
			o.record(EventDrained, nil, 0, false)
		}
		o.unlock()
	}
}

// passOn hands the slot a successful lease on c just freed to the oldest
// waiter as a new lease on c, without giving it back first, and reports
// whether it took the slot. It declines when c is not up with a clean
// record, or when a probe may be due (kick serves a due probe first). See
// the top of this file for why c is the policy's choice.
func (p *Pool) passOn(c *core) bool {
	if c.health.Load() != 0 || p.probeState() != dueNone {
		return false
	}
	// The ended lease counts as ended; its place in flight passes on.
	c.leases.Add(leaseEnded)
	if l := p.newLease(c, 0); !p.queue.Grant(l) { // the pool stays as full: no EventDrained
		l.Done(context.Canceled) // the waiter gave up meanwhile: the slot goes back
	}
	return true
}

// admit takes a place under the concurrency limit on c, or reports false
// and leaves c as it was. A compare-and-swap, not an add and an undo: the
// in-flight count never shows more than the limit, even for an instant.
func (p *Pool) admit(c *core) bool {
	for {
		n := c.leases.Load()
		if inFlightOf(n) >= p.limitOf(c) {
			return false
		}
		if c.leases.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// belowLimit is the policy's choice among the endpoints below their limit,
// when its first choice was at it: a few more of its choices (P2C and
// LeastLoaded already prefer the least loaded), then the least loaded
// endpoint that is up and below the limit, admitted. nil if there is none.
func (p *Pool) belowLimit() *core {
	cores := p.view.Load().cores
	for range min(len(cores)-1, 3) { // more draws only where they can differ
		if c := p.pick(); c != nil && p.admit(c) {
			return c
		}
	}
	var best *core
	low := int64(math.MaxInt64)
	for _, c := range cores {
		if c.pickable() && c.inFlight() < p.limitOf(c) {
			if l := c.load(); l < low {
				best, low = c, l
			}
		}
	}
	if best != nil && p.admit(best) {
		return best
	}
	return nil
}

// refuse is a public pick's ErrSaturated: it counts the refusal and, when
// the pool was not saturated yet, emits EventSaturated. The queue's own
// tries (kick) get a plain ErrSaturated: they refuse no caller.
func (p *Pool) refuse() (Lease, error) {
	p.stats.saturations.Add(1)
	p.saturated()
	return Lease{}, ErrSaturated
}

// saturated emits EventSaturated if the pool was not saturated yet. The
// flag's swap and the record are ordered as a transition's are, so a
// subscriber sees EventSaturated and EventDrained alternate.
func (p *Pool) saturated() {
	if !p.stats.full.Load() {
		o := p.ordered()
		if p.stats.full.CompareAndSwap(false, true) {
			o.record(EventSaturated, nil, 0, false)
		}
		o.unlock()
	}
}

// kick serves the queue while anyone waits and a lease can be had. A
// lease its waiter gave up on first is ended neutrally, which kicks again.
func (p *Pool) kick() {
	for p.queue.waiting() {
		l, err := p.acquire()
		if err != nil {
			return
		}
		if !p.queue.Grant(l) {
			l.Done(context.Canceled)
			return
		}
	}
}

// acquire is Pick for the queue's head: a due probe, else the policy's
// choice among endpoints below their limit. It skips lease's queue check:
// the queue is what it serves.
func (p *Pool) acquire() (Lease, error) {
	if p.probeState() != dueNone {
		if l, ok := p.leaseProbe(); ok {
			return l, nil
		}
	}
	if c := p.choose(); c != nil {
		return p.leaseOn(c)
	}
	return p.lastResort()
}

// PickWait is Pick, except that where Pick would fail with ErrSaturated or
// ErrNoEndpoint it waits, first in first out while the queue drains, until
// the policy can lease an endpoint below its limit. It fails with an error
// wrapping ctx.Err() (or DeadlineExceeded after Config.MaxWait if ctx has
// no deadline), with ErrQueueFull past Config.MaxWaiters, with ErrShed
// past Config.WaitTarget in a standing queue (newest first then), and with
// ErrClosed once the pool is closed. A caller that gives up never holds a
// slot.
func (p *Pool) PickWait(ctx context.Context) (Lease, error) {
	if err := ctx.Err(); err != nil {
		p.stats.timeouts.Add(1)
		return Lease{}, fmt.Errorf("lb: PickWait: %w", err)
	}
	if p.queue.Closed() {
		return Lease{}, ErrClosed
	}
	err := ErrSaturated
	if p.limit == 0 || !p.queue.waiting() { // with waiters queued under a limit, nobody overtakes them
		var l Lease
		if l, err = p.acquire(); err == nil || !(errors.Is(err, ErrSaturated) || errors.Is(err, ErrNoEndpoint)) {
			return l, err
		}
	}
	if err == ErrSaturated {
		p.saturated()
	}
	return p.wait(ctx)
}

// wait queues the caller and waits for its grant. Once queued it kicks
// the queue itself: a slot freed since the caller's try, by a Done that
// found nobody queued, is not lost, and a Done from then on sees the
// caller queued. A wait whose context has no deadline is bounded by
// MaxWait.
func (p *Pool) wait(ctx context.Context) (Lease, error) {
	var bound time.Duration
	if _, ok := ctx.Deadline(); !ok {
		bound = p.cfg.maxWait
	}
	w, err := p.queue.Push(int(p.cfg.maxWaiters), bound)
	if err == waitq.ErrFull {
		p.stats.queueFull.Add(1)
		return Lease{}, ErrQueueFull
	} else if err != nil {
		return Lease{}, ErrClosed
	}
	p.kick()
	var l Lease
	if done := ctx.Done(); done == nil {
		l = <-w.C() // a plain receive wakes sooner than a select
	} else {
		select {
		case l = <-w.C():
		case <-done:
			if l, granted := w.Leave(); granted {
				l.Done(context.Canceled) // the grant won the race: pass it on
			}
			p.stats.timeouts.Add(1)
			return Lease{}, fmt.Errorf("lb: PickWait: no lease before the wait ended: %w", ctx.Err())
		}
	}
	switch w.Finish() {
	case nil:
		return l, nil
	case waitq.ErrClosed:
		return Lease{}, ErrClosed
	case waitq.ErrShed:
		return Lease{}, fmt.Errorf("lb: PickWait: waited past WaitTarget (%v) in a standing queue: %w", p.cfg.waitTarget, ErrShed)
	}
	p.stats.timeouts.Add(1) // waitq.ErrExpired
	return Lease{}, fmt.Errorf("lb: PickWait: no lease within MaxWait (%v): %w", p.cfg.maxWait, context.DeadlineExceeded)
}

// Close ends the pool's waiting for good: callers in PickWait and every
// later one get ErrClosed. It also stops an adaptive limit's evaluations
// and LoadWeights' updates: each endpoint keeps the limit and the weight
// it had. Pick, Done and membership changes
// go on working, and leases outlive it; Registry.Delete closes the pool it
// removes. Close is idempotent.
func (p *Pool) Close() {
	p.adaptMu.Lock()
	defer p.adaptMu.Unlock()
	p.queue.Close()
	if p.adapt != nil {
		p.adapt.Stop()
	}
	p.stopRamps()
	if p.subset.timer != nil {
		p.subset.timer.Stop()
	}
	p.stopWeighing()
}
