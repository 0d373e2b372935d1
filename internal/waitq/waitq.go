// Package waitq is a queue of goroutines waiting for values, served oldest
// first, in the design of golang.org/x/sync's semaphore: a list under a
// mutex, and a channel per waiter. It holds waiters, not a resource: the
// caller owns whatever is handed out and calls Grant when one frees.
//
// A wait ends in exactly one way: a Grant hands the waiter a value, Close
// fails it, its bound passes, or the waiter leaves because it gave up.
// Whoever ends it first takes it out of the queue under the lock, so a
// grant that races the waiter's leaving is never lost: Leave reports it,
// and the waiter hands the value on.
//
// Push stamps a waiter with the time it joined (today only a bounded one,
// which needs it), and one method (next) chooses whom a Grant serves, so a
// policy of service or shedding by age belongs there. A waiter and its channel are reused: a wait allocates
// nothing.
package waitq

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Errors that end a wait other than by a grant.
var (
	ErrClosed  = errors.New("waitq: closed")
	ErrFull    = errors.New("waitq: full")
	ErrExpired = errors.New("waitq: bound passed")
	ErrDone    = errors.New("waitq: done")
)

// Queue is a queue of waiters for values of type T. The zero Queue is
// empty and ready. A Queue must not be copied after first use.
type Queue[T any] struct {
	n      atomic.Int32 // waiters queued, for Len without the lock
	closed atomic.Bool  // set under mu

	mu         sync.Mutex
	head, tail *Waiter[T] // oldest first
	granted    uint64
	// reaper ends bounded waits: one timer per queue, set for the earliest
	// deadline (alarm). It is left set when that waiter goes; firing
	// for nothing then costs less than stopping it on every wait.
	reaper *time.Timer
	alarm  int64
	free   sync.Pool // finished waiters, with their channels
}

// Waiter is one goroutine's place in a Queue, from Push until Wait returns
// anything but ErrDone, or until Leave.
type Waiter[T any] struct {
	q          *Queue[T]
	prev, next *Waiter[T]
	queued     bool
	c          chan T // buffered: whoever ends the wait sends once, without blocking
	err        error  // why the wait ended, written before the send
	since      int64  // when it joined, on the queue's clock, if bounded; else 0
	deadline   int64  // since plus its bound, or 0
}

// clock is the queue's time: monotonic nanoseconds since an epoch, and
// inside a testing/synctest bubble the bubble's fake time.
func clock() int64 { return int64(time.Since(epoch)) }

var epoch = time.Now()

// Len returns the number of waiters queued. It takes no lock.
func (q *Queue[T]) Len() int { return int(q.n.Load()) }

// Granted returns the number of waits a Grant has ended.
func (q *Queue[T]) Granted() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.granted
}

// Closed reports whether Close was called. It takes no lock.
func (q *Queue[T]) Closed() bool { return q.closed.Load() }

// Push queues the caller last and returns its waiter. It fails with
// ErrClosed after Close and with ErrFull when max waiters are queued
// already. A bound above zero ends the wait with ErrExpired once it has
// passed since Push; zero leaves the wait unbounded.
func (q *Queue[T]) Push(max int, bound time.Duration) (*Waiter[T], error) {
	w, _ := q.free.Get().(*Waiter[T])
	if w == nil {
		w = &Waiter[T]{q: q, c: make(chan T, 1)}
	}
	w.since, w.deadline = 0, 0
	if bound > 0 { // the clock costs as much as a grant: read it only where a bound needs it
		w.since = clock()
		w.deadline = w.since + int64(bound)
	}
	q.mu.Lock()
	if err := q.refuse(max); err != nil {
		q.mu.Unlock()
		q.free.Put(w)
		return nil, err
	}
	w.prev, w.queued = q.tail, true
	if q.tail != nil {
		q.tail.next = w
	} else {
		q.head = w
	}
	q.tail = w
	q.n.Add(1)
	if w.deadline != 0 && (q.alarm == 0 || w.deadline < q.alarm) {
		q.arm(w.deadline, w.since)
	}
	q.mu.Unlock()
	return w, nil
}

// refuse is Push's error, if any. Callers hold mu.
func (q *Queue[T]) refuse(max int) error {
	switch {
	case q.closed.Load():
		return ErrClosed
	case int(q.n.Load()) >= max:
		return ErrFull
	}
	return nil
}

// Grant hands v to the waiter next in line and reports whether there was
// one; false leaves v with the caller.
func (q *Queue[T]) Grant(v T) bool {
	q.mu.Lock()
	w := q.next()
	if w == nil {
		q.mu.Unlock()
		return false
	}
	q.remove(w)
	q.granted++
	q.mu.Unlock()
	w.c <- v // w is out of the queue: nobody else sends to it
	return true
}

// next is the waiter a Grant serves: the oldest. Callers hold mu.
func (q *Queue[T]) next() *Waiter[T] { return q.head }

// remove takes w out of the list. Callers hold mu.
func (q *Queue[T]) remove(w *Waiter[T]) {
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
}

// fail takes w out of the queue and ends its wait with err. Callers hold
// mu.
func (q *Queue[T]) fail(w *Waiter[T], err error) {
	q.remove(w)
	w.err = err
	var zero T
	w.c <- zero
}

// Close fails every waiter with ErrClosed, and every later Push. Close is
// idempotent.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed.Store(true)
	for q.head != nil {
		q.fail(q.head, ErrClosed)
	}
}

// arm sets the reaper for deadline. Callers hold mu.
func (q *Queue[T]) arm(deadline, now int64) {
	d := time.Duration(max(deadline-now, 0))
	if q.reaper == nil {
		q.reaper = time.AfterFunc(d, q.reap)
	} else {
		q.reaper.Reset(d)
	}
	q.alarm = deadline
}

// reap fails the waiters whose bound has passed and sets the reaper for
// the earliest deadline left.
func (q *Queue[T]) reap() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now, next := clock(), int64(0)
	q.alarm = 0
	for w := q.head; w != nil; {
		after := w.next
		switch {
		case w.deadline == 0:
		case w.deadline <= now:
			q.fail(w, ErrExpired)
		case next == 0 || w.deadline < next:
			next = w.deadline
		}
		w = after
	}
	if next != 0 {
		q.arm(next, now)
	}
}

// Wait blocks until w's wait ends or done is closed. It returns the value
// a Grant handed w and nil, or the zero T and ErrClosed or ErrExpired; w is
// then finished. If done is closed first it returns ErrDone, with w still
// queued: the caller then calls Leave. A nil done never closes.
func (w *Waiter[T]) Wait(done <-chan struct{}) (T, error) {
	var v T
	if done == nil { // a plain receive wakes sooner than a select
		v = <-w.c
	} else {
		select {
		case v = <-w.c:
		case <-done:
			return v, ErrDone
		}
	}
	return v, w.finish()
}

// Leave takes w out of the queue after Wait returned ErrDone, and finishes
// it. If a Grant took w first, Leave returns its value and true: the caller
// gave up, so it hands the value on (to Grant again, or back to where it
// came from). Close or the bound ending w first is not a grant.
func (w *Waiter[T]) Leave() (T, bool) {
	q := w.q
	q.mu.Lock()
	if w.queued {
		q.remove(w)
		q.mu.Unlock()
		q.free.Put(w)
		var zero T
		return zero, false
	}
	q.mu.Unlock()
	v := <-w.c // sent, or about to be, by whoever took w
	return v, w.finish() == nil
}

// finish returns why w's wait ended and puts w back for reuse.
func (w *Waiter[T]) finish() error {
	err := w.err
	w.err = nil
	w.q.free.Put(w)
	return err
}
