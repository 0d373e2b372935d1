package lb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Admission control: Config.MaxConcurrency caps each endpoint's leases in
// flight, and PickWait queues callers, first in first out, until a lease
// can be had. Nothing here runs for a pool without a limit and without
// waiters: Pick's common path tests Pool.leased, and Done tests the lease's
// mark, as for any other per-lease state.
//
// The queue hands a freed slot to its head directly: the code that frees
// one (Done, an Add, a reinstatement, a probe falling due, a new waiter)
// calls kick, which, while waiters are queued, leases for the head under
// the queue's lock and sends the lease down the head's channel. A new Pick
// meanwhile sees waiters queued and returns ErrSaturated instead of taking
// the slot. A waiter whose context ends leaves the queue under the same
// lock; if the grant won the race, the waiter ends that lease neutrally,
// which kicks the queue again, so the slot passes to the next waiter and
// is never leaked.

// queue is PickWait's waiters, oldest first.
type queue struct {
	mu         sync.Mutex
	head, tail *waiter
	n          atomic.Int32 // waiters queued; read without the lock by Pick and Done
	closed     bool
	// reaper ends the waits that Config.MaxWait bounds: one timer per pool,
	// armed for the oldest such waiter, instead of one per wait (a timer
	// per wait cost more than the hand-off itself).
	reaper *time.Timer
	armed  bool
}

// waiter is one PickWait caller.
type waiter struct {
	prev, next *waiter
	grant      chan Lease // buffered: the dispatcher never blocks; closed by Close
	queued     bool
	expires    int64 // on the latency clock, for waits MaxWait bounds; else 0
}

func (q *queue) push(w *waiter) {
	w.prev, w.queued = q.tail, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n.Add(1)
}

// remove takes w out of the queue and reports whether it was in it.
func (q *queue) remove(w *waiter) bool {
	if !w.queued {
		return false
	}
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		q.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		q.tail = w.prev
	}
	w.prev, w.next, w.queued = nil, nil, false
	q.n.Add(-1)
	return true
}

// stats are admission's counters, written only off the common path.
type stats struct {
	grants, timeouts, queueFull, saturations atomic.Uint64
	full                                     atomic.Bool // an EventSaturated was the last pool event
}

// Stats is a snapshot of a pool's admission counters.
type Stats struct {
	Waiting     int    // PickWait callers queued now
	Grants      uint64 // leases handed to queued waiters
	Timeouts    uint64 // waits ended by their context or Config.MaxWait
	QueueFull   uint64 // PickWait calls refused with ErrQueueFull
	Saturations uint64 // Picks (and PickKeys, PickExcepts) that returned ErrSaturated
}

// Stats returns the pool's admission counters.
func (p *Pool) Stats() Stats {
	return Stats{
		Waiting:     int(p.queue.n.Load()),
		Grants:      p.stats.grants.Load(),
		Timeouts:    p.stats.timeouts.Load(),
		QueueFull:   p.stats.queueFull.Load(),
		Saturations: p.stats.saturations.Load(),
	}
}

// begin starts what a lease carries beyond its in-flight count: the
// policy's state, if it keeps some. The mark is never 0, so Done calls end.
func (p *Pool) begin(c *core) int64 {
	if p.policyLeased {
		return p.policyBegin(c)
	}
	return 1
}

// end is Done's work beyond the in-flight count: the policy's state, and a
// freed slot for the queue.
func (p *Pool) end(c *core, mark int64, err error) {
	if p.policyLeased {
		p.policyEnd(c, mark, err)
	}
	if p.limit != 0 {
		p.kick()
		if p.stats.full.Load() && p.queue.n.Load() == 0 && p.stats.full.CompareAndSwap(true, false) {
			p.emit(EventDrained, nil, 0)
		}
	}
}

// admit takes a place under the concurrency limit on c, or reports false
// and leaves c as it was. A compare-and-swap, not an add and an undo: the
// in-flight count never shows more than the limit, even for an instant.
func (p *Pool) admit(c *core) bool {
	for {
		n := c.inflight.Load()
		if n >= p.limit {
			return false
		}
		if c.inflight.CompareAndSwap(n, n+1) {
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
		if c.pickable() && c.inflight.Load() < p.limit {
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
// tries (serve) get a plain ErrSaturated: they refuse no caller.
func (p *Pool) refuse() (Lease, error) {
	p.stats.saturations.Add(1)
	if p.stats.full.CompareAndSwap(false, true) {
		p.emit(EventSaturated, nil, 0)
	}
	return Lease{}, ErrSaturated
}

// kick serves the queue if anyone waits.
func (p *Pool) kick() {
	if p.queue.n.Load() != 0 {
		p.dispatch()
	}
}

// dispatch leases for the queue's head while a lease can be had.
func (p *Pool) dispatch() {
	p.queue.mu.Lock()
	defer p.queue.mu.Unlock()
	p.serve()
}

// serve is dispatch with the queue's lock held.
func (p *Pool) serve() {
	q := &p.queue
	for q.head != nil {
		l, err := p.acquire()
		if err != nil {
			return
		}
		w := q.head
		q.remove(w)
		w.grant <- l
		p.stats.grants.Add(1)
	}
}

// acquire is Pick for the queue's head: a due probe, else the policy's
// choice among endpoints below their limit. It skips lease's queue check:
// the queue is what it serves.
func (p *Pool) acquire() (Lease, error) {
	if p.due.Load() != dueNone {
		if l, ok := p.leaseProbe(); ok {
			return l, nil
		}
	}
	if c := p.pick(); c != nil {
		return p.leaseOn(c)
	}
	return p.lastResort()
}

// PickWait is Pick, except that where Pick would fail with ErrSaturated or
// ErrNoEndpoint it waits, in one first-in-first-out queue per pool, until a
// lease can be had: a slot frees, an endpoint is added or reinstated, or a
// probe falls due. The lease it returns is the one the pool's policy would
// choose among the endpoints below their limit. It fails with an error
// wrapping ctx.Err() when ctx ends first (without a deadline, after
// Config.MaxWait, with context.DeadlineExceeded), with ErrQueueFull when
// Config.MaxWaiters callers already wait, and with ErrClosed once the pool
// is closed. A caller that gives up never holds a slot: a grant that races
// its cancellation passes to the next waiter.
func (p *Pool) PickWait(ctx context.Context) (Lease, error) {
	if err := ctx.Err(); err != nil {
		p.stats.timeouts.Add(1)
		return Lease{}, fmt.Errorf("lb: PickWait: %w", err)
	}
	l, err := p.Pick()
	if err == nil || !(errors.Is(err, ErrSaturated) || errors.Is(err, ErrNoEndpoint)) {
		return l, err
	}
	return p.wait(ctx)
}

// wait queues the caller and waits for its grant. It serves the queue once
// itself, under the lock it queued under: a slot freed since the caller's
// Pick, whose Done found nobody queued, is not lost, and a Done from now on
// sees the caller queued.
func (p *Pool) wait(ctx context.Context) (Lease, error) {
	q := &p.queue
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return Lease{}, ErrClosed
	}
	if q.n.Load() >= p.cfg.maxWaiters {
		q.mu.Unlock()
		p.stats.queueFull.Add(1)
		return Lease{}, ErrQueueFull
	}
	w := &waiter{grant: make(chan Lease, 1)}
	if _, ok := ctx.Deadline(); !ok {
		w.expires = nanos() + int64(p.cfg.maxWait)
	}
	q.push(w)
	p.serve()
	if w.queued && w.expires != 0 && !q.armed {
		p.armReaper(w.expires)
	}
	q.mu.Unlock()

	cause := error(context.DeadlineExceeded)
	select {
	case l, ok := <-w.grant:
		switch {
		case !ok:
			return Lease{}, ErrClosed
		case l.c == nil: // the reaper: MaxWait passed
			p.stats.timeouts.Add(1)
			return Lease{}, fmt.Errorf("lb: PickWait: no lease within MaxWait (%v): %w", p.cfg.maxWait, cause)
		}
		return l, nil
	case <-ctx.Done():
		cause = ctx.Err()
	}
	q.mu.Lock()
	left := q.remove(w)
	q.mu.Unlock()
	if !left { // granted, reaped or closed meanwhile: pass a grant on
		if l, ok := <-w.grant; ok && l.c != nil {
			l.Done(context.Canceled)
		}
	}
	p.stats.timeouts.Add(1)
	return Lease{}, fmt.Errorf("lb: PickWait: no lease before the wait ended: %w", cause)
}

// armReaper sets the reaper for the latency clock's time at. Callers hold
// the queue's lock.
func (p *Pool) armReaper(at int64) {
	q := &p.queue
	d := time.Duration(max(at-nanos(), 0))
	if q.reaper == nil {
		q.reaper = time.AfterFunc(d, p.reap)
	} else {
		q.reaper.Reset(d)
	}
	q.armed = true
}

// reap ends the bounded waits whose MaxWait has passed, with a zero grant,
// and re-arms for the oldest one left.
func (p *Pool) reap() {
	q := &p.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	q.armed = false
	now, next := nanos(), int64(0)
	for w := q.head; w != nil; {
		after := w.next
		switch {
		case w.expires == 0:
		case w.expires <= now:
			q.remove(w)
			w.grant <- Lease{}
		case next == 0:
			next = w.expires // FIFO: later bounded waiters expire later
		}
		w = after
	}
	if next != 0 {
		p.armReaper(next)
	}
}

// Close ends the pool's waiting for good: callers in PickWait and every
// later one get ErrClosed. Pick, Done and membership changes go on working,
// and leases outlive it; Registry.Delete closes the pool it removes. Close
// is idempotent.
func (p *Pool) Close() {
	q := &p.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for q.head != nil {
		w := q.head
		q.remove(w)
		close(w.grant)
	}
}
