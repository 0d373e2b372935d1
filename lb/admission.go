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
// The queue hands a freed slot to its front waiter directly. A successful
// Done on an endpoint that is up, with a waiter in front, passes its own
// slot on without giving it back (passOn): waiters queue only while every
// endpoint up is at its limit, so the endpoint whose slot just freed is the
// only one below it, the policy's one choice. passOn takes the front
// waiter with one compare-and-swap and sends the lease down the waiter's
// buffered channel; it takes the queue's lock only to move the next waiter
// up, after the send. Everything else that may free a slot (any other
// Done, an Add, a reinstatement, a probe falling due, a new waiter) calls
// kick, which, while waiters are queued, leases for the front by the
// policy under the queue's lock. A new Pick meanwhile sees waiters queued
// and returns ErrSaturated instead of taking the slot. A waiter whose
// context ends leaves the queue under the same lock; if a grant won the
// race, the waiter ends that lease neutrally, which kicks the queue again,
// so the slot passes to the next waiter and is never leaked.
//
// The hand-off's cost is what a release does before the waiter can run,
// and what the waiter does after it wakes: Done, passOn's compare-and-swap
// and the channel's send; the receive, and the waiter put back for reuse.
// A waiter allocates nothing. Measured in bench/admission against
// golang.org/x/sync's semaphore and a channel of capacity one (see the
// README for the numbers), the runtime's channel queue stays ahead: its
// release wakes the waiter with nothing around it, and PickWait's default
// bound (MaxWait) keeps a timer in the runtime's heap while waits come and
// go, which makes every scheduling round read the clock.

// queue is PickWait's waiters, oldest first: the oldest in front, the
// others in a list behind it. The front waiter is taken without the lock:
// whoever swaps front from a waiter to nil (compare-and-swap) owns the end
// of that wait, so a Done hands its slot on with one compare-and-swap and
// the channel's send. Everything else (joining, the list, promoting the
// next waiter to front, leaving, the reaper, Close) holds mu, and only
// code holding mu sets front to a waiter: so while mu is held, front
// changes only to nil.
//
// A Pick refuses while anyone waits: it reads behind, then front. A waiter
// promoted to front is stored there before behind drops, so a reader that
// sees behind at 0 after a promotion sees the new front.
type queue struct {
	front  atomic.Pointer[waiter]
	behind atomic.Int32 // waiters in the list
	mu     sync.Mutex
	// head and tail are the list behind front, oldest first; frontExpires
	// is front's expires, written when it became front, so the reaper need
	// not read a waiter a Done may already have taken (and its owner reused).
	head, tail   *waiter
	frontExpires int64
	closed       atomic.Bool // set under mu; PickWait reads it without
	// reaper ends the waits that Config.MaxWait bounds: one timer per pool,
	// armed for the oldest such waiter, instead of one per wait (a timer
	// per wait cost more than the hand-off itself). It is left armed when
	// the queue empties, and fires once for nothing: stopping it there put
	// 90 ns on the hand-off, a release's path to the waiter.
	reaper *time.Timer
	armed  bool
	// joined and ended count the waits that queued and those ended other
	// than by a grant (their context, the reaper, Close), so that Stats
	// has the grants without a count on the hand-off's path.
	joined, ended uint64
	free          sync.Pool // finished waiters, reused (newWaiter)
}

// waiter is one PickWait caller. Whoever takes it out of the queue other
// than the waiter itself ends its wait through ch: a grant sends the lease,
// the reaper a zero Lease, Close closes it. Waiters are reused (waiters),
// with their channels: a wait allocates nothing.
type waiter struct {
	prev, next *waiter
	ch         chan Lease // buffered: one send at most, which never blocks
	expires    int64      // on the latency clock, for waits MaxWait bounds; else 0
}

// newWaiter returns a finished waiter of this queue, or a new one.
// Waiters are kept per pool, not shared by all: a channel belongs to the
// testing/synctest bubble it was made in, as the pool's timers do.
func (q *queue) newWaiter() *waiter {
	if w, _ := q.free.Get().(*waiter); w != nil {
		return w
	}
	return &waiter{ch: make(chan Lease, 1)}
}

// recycle keeps a finished waiter for reuse. A waiter goes back only once
// nobody else can reach it: it has received what ended its wait, and its
// channel is empty and open.
func (q *queue) recycle(w *waiter) {
	w.expires = 0
	q.free.Put(w)
}

// waiting reports whether anyone waits (see queue for the order of reads).
func (q *queue) waiting() bool { return q.behind.Load() != 0 || q.front.Load() != nil }

// count is the number of waiters queued, for Stats and MaxWaiters.
func (q *queue) count() int32 {
	n := q.behind.Load()
	if q.front.Load() != nil {
		n++
	}
	return n
}

// push queues w last: at the list's end, then up to front if front is
// empty. Callers hold mu.
func (q *queue) push(w *waiter) {
	w.prev = q.tail
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.behind.Add(1)
	// Front may be empty: the queue was, or a Done took front while w
	// joined the list (it promotes only if it sees behind above 0, and w
	// may not have been counted yet).
	q.promote()
}

// promote moves the list's oldest waiter to front if front is empty.
// Callers hold mu.
func (q *queue) promote() {
	w := q.head
	if w == nil || q.front.Load() != nil {
		return
	}
	q.head = w.next
	if q.head != nil {
		q.head.prev = nil
	} else {
		q.tail = nil
	}
	w.next = nil
	q.frontExpires = w.expires
	q.front.Store(w) // before behind drops: see queue
	q.behind.Add(-1)
}

// take takes w out of front and reports whether it was there: true means
// the caller now ends w's wait.
func (q *queue) take(w *waiter) bool { return q.front.CompareAndSwap(w, nil) }

// listed reports whether w is in the list. Callers hold mu.
func (q *queue) listed(w *waiter) bool { return q.head == w || w.prev != nil }

// unlist takes w out of the list and reports whether it was in it. Callers
// hold mu.
func (q *queue) unlist(w *waiter) bool {
	if !q.listed(w) {
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
	w.prev, w.next = nil, nil
	q.behind.Add(-1)
	return true
}

// leave takes w out of the queue, wherever it is, and reports whether it
// was in it: false means a grant, the reaper or Close took it first, and
// what ended its wait is in (or on its way to) its channel. Callers hold
// mu.
func (q *queue) leave(w *waiter) bool {
	if q.take(w) {
		q.promote()
		return true
	}
	return q.unlist(w)
}

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
	Saturations uint64 // Picks (and PickKeys, PickExcepts) that returned ErrSaturated; not PickWaits that waited
}

// Stats returns the pool's admission counters.
func (p *Pool) Stats() Stats {
	q := &p.queue
	q.mu.Lock()
	waiting := q.count()
	grants := q.joined - q.ended - uint64(waiting)
	q.mu.Unlock()
	return Stats{
		Waiting:     int(waiting),
		Grants:      grants,
		Timeouts:    p.stats.timeouts.Load(),
		QueueFull:   p.stats.queueFull.Load(),
		Saturations: p.stats.saturations.Load(),
	}
}

// begin starts what a lease carries beyond its in-flight count: its place
// in the pool's total, for policies that read the total, and the policy's
// state, if its table keeps some. The mark is never 0, so Done calls end.
// The total is counted per processor (perproc.Sum): two atomic adds per lease
// on one shared counter cost about a fifth of a PickKey+Done, and
// ConsistentHash's bound reads the total only when a key's owner is busy.
// Where a lease carries the total alone (Pool.totalOnly), lease and
// Lease.Done do begin's and end's work themselves: a change to either must
// be made there too.
func (p *Pool) begin(c *core) int64 {
	if p.countsTotal {
		p.counts.total.Add(1)
	}
	if p.tableLeased {
		return p.policyBegin(c)
	}
	return 1
}

// end is Done for a lease with state (Pool.leased): the lease leaves the
// pool's total and the policy's state; then, under a concurrency limit, a
// successful lease's slot goes straight to the front waiter when it can
// (passOn); else the slot is given back, the outcome reported, and only
// then the queue kicked, so that a waiter is never handed the endpoint that
// just failed before its failure counts.
func (p *Pool) end(c *core, mark int64, err error, probe uint64) {
	if p.countsTotal {
		p.counts.total.Add(-1)
	}
	if p.tableLeased {
		p.policyEnd(c, mark, err)
	}
	if p.limit != 0 && err == nil && probe == 0 && p.queue.front.Load() != nil && p.passOn(c) {
		return
	}
	c.release()
	if err != nil || probe != 0 || c.health.Load() != 0 {
		p.report(c, err, probe)
	}
	if p.limit != 0 {
		p.kick()
		if p.stats.full.Load() {
			p.drained()
		}
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

// passOn hands the slot a successful lease on c just freed to the front
// waiter as a new lease on c, without giving it back first, and reports
// whether it did. It declines when nobody is in front, when c is not up
// with a clean record, when a probe may be due (the queue's general path
// serves a due probe first), or when another taker wins the front. See the
// top of this file for why c is the policy's choice. The front is taken
// without the lock; only promoting the next waiter takes it.
func (p *Pool) passOn(c *core) bool {
	q := &p.queue
	w := q.front.Load()
	if w == nil || c.health.Load() != 0 || p.due.Load() != dueNone || !q.take(w) {
		return false
	}
	w.ch <- p.newLease(c, 0) // the pool stays as full: no EventDrained
	if q.behind.Load() != 0 {
		q.mu.Lock()
		q.promote()
		q.mu.Unlock()
	}
	return true
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

// kick serves the queue if anyone waits.
func (p *Pool) kick() {
	if p.queue.waiting() {
		p.dispatch()
	}
}

// dispatch leases for the queue's front while a lease can be had. A lease
// serve was left with ends neutrally once the lock is given back, which
// serves the queue again.
func (p *Pool) dispatch() {
	p.queue.mu.Lock()
	spare := p.serve()
	p.queue.mu.Unlock()
	spare.Done(context.Canceled)
}

// serve is dispatch with the queue's lock held. It returns the lease it
// acquired for a front waiter that a Done served first, when nobody is
// left to take it; the caller ends it after unlocking.
func (p *Pool) serve() (spare Lease) {
	q := &p.queue
	for {
		q.promote()
		w := q.front.Load()
		if w == nil {
			return spare
		}
		l := spare
		if l.c == nil {
			var err error
			if l, err = p.acquire(); err != nil {
				return Lease{}
			}
		}
		if !q.take(w) { // a Done's passOn took it meanwhile: the lease goes to the next
			spare = l
			continue
		}
		spare = Lease{}
		w.ch <- l
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
// is closed, even if a slot is free. A caller that gives up never holds a
// slot: a grant that races its cancellation passes to the next waiter. A
// PickWait that waits is not counted in Stats.Saturations.
func (p *Pool) PickWait(ctx context.Context) (Lease, error) {
	if err := ctx.Err(); err != nil {
		p.stats.timeouts.Add(1)
		return Lease{}, fmt.Errorf("lb: PickWait: %w", err)
	}
	if p.queue.closed.Load() {
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

// wait queues the caller and waits for its grant. It serves the queue once
// itself, under the lock it queued under: a slot freed since the caller's
// Pick, whose Done found nobody queued, is not lost, and a Done from now on
// sees the caller queued. The waiter is reused and its MaxWait bound read
// before the lock, which releases wait for.
func (p *Pool) wait(ctx context.Context) (Lease, error) {
	q := &p.queue
	w := q.newWaiter()
	if _, ok := ctx.Deadline(); !ok {
		w.expires = nanos() + int64(p.cfg.maxWait)
	}
	q.mu.Lock()
	if q.closed.Load() || q.count() >= p.cfg.maxWaiters {
		closed := q.closed.Load()
		q.mu.Unlock()
		q.recycle(w)
		if closed {
			return Lease{}, ErrClosed
		}
		p.stats.queueFull.Add(1)
		return Lease{}, ErrQueueFull
	}
	q.push(w)
	q.joined++
	spare := p.serve()
	if w.expires != 0 && !q.armed && (q.front.Load() == w || q.listed(w)) {
		p.armReaper(p.cfg.maxWait)
	}
	q.mu.Unlock()
	spare.Done(context.Canceled) // never w's: w was served, or is still queued

	done := ctx.Done()
	if done == nil { // a context that never ends: a plain receive wakes sooner than a select
		l, ok := <-w.ch
		return p.outcome(w, l, ok)
	}
	select {
	case l, ok := <-w.ch:
		return p.outcome(w, l, ok)
	case <-done:
	}
	q.mu.Lock()
	left := q.leave(w)
	if left {
		q.ended++
	}
	q.mu.Unlock()
	if !left { // a grant, the reaper or Close was first: its value is in ch
		l, ok := <-w.ch
		if ok {
			q.recycle(w)
			if l.c != nil { // the grant won the race: pass it on
				l.Done(context.Canceled)
			}
		}
	} else {
		q.recycle(w)
	}
	p.stats.timeouts.Add(1)
	return Lease{}, fmt.Errorf("lb: PickWait: no lease before the wait ended: %w", ctx.Err())
}

// outcome is what a waiter returns for what its channel gave it: a lease,
// a zero Lease from the reaper (MaxWait passed), or nothing from Close. The
// waiter is reused unless its channel was closed.
func (p *Pool) outcome(w *waiter, l Lease, ok bool) (Lease, error) {
	if !ok {
		return Lease{}, ErrClosed
	}
	q := &p.queue
	q.recycle(w)
	if l.c == nil {
		p.stats.timeouts.Add(1)
		return Lease{}, fmt.Errorf("lb: PickWait: no lease within MaxWait (%v): %w", p.cfg.maxWait, context.DeadlineExceeded)
	}
	return l, nil
}

// armReaper sets the reaper to fire after d. Callers hold the queue's
// lock.
func (p *Pool) armReaper(d time.Duration) {
	q := &p.queue
	if q.reaper == nil {
		q.reaper = time.AfterFunc(d, p.reap)
	} else {
		q.reaper.Reset(d)
	}
	q.armed = true
}

// reap ends the bounded waits whose MaxWait has passed and re-arms for
// the oldest one left.
func (p *Pool) reap() {
	q := &p.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	q.armed = false
	now := nanos()
	// While mu is held front changes only to nil (see queue), so front and
	// frontExpires agree; a Done may still take it first.
	if w := q.front.Load(); w != nil && q.frontExpires != 0 && q.frontExpires <= now && q.take(w) {
		q.ended++
		w.ch <- Lease{}
	}
	for w := q.head; w != nil; {
		after := w.next
		if w.expires != 0 && w.expires <= now {
			q.unlist(w)
			q.ended++
			w.ch <- Lease{}
		}
		w = after
	}
	q.promote()
	// FIFO: later bounded waiters expire later, so the first bounded one
	// left is the next to expire.
	next := int64(0)
	if q.front.Load() != nil && q.frontExpires != 0 {
		next = q.frontExpires
	}
	for w := q.head; w != nil && next == 0; w = w.next {
		next = w.expires
	}
	if next != 0 {
		p.armReaper(time.Duration(max(next-now, 0)))
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
	q.closed.Store(true)
	if w := q.front.Load(); w != nil && q.take(w) {
		q.ended++
		close(w.ch)
	}
	for q.head != nil {
		w := q.head
		q.unlist(w)
		q.ended++
		close(w.ch)
	}
}
