// Package waitq is a queue of goroutines waiting for values, served oldest
// first, in the design of golang.org/x/sync's semaphore: a list under a
// mutex, and a buffered channel per waiter. It holds waiters, not a
// resource: the caller owns what it hands out, and calls Grant when some
// frees.
//
// A waiter joins with Push and receives from its channel (Waiter.C), then
// calls Finish; or it gives up and calls Leave. Its wait ends in exactly
// one way, by whoever takes it out of the queue first, under the lock: a
// Grant, Close, the wait's bound, or Leave. So a grant that races the
// waiter's giving up is never lost: Leave returns it, and the waiter hands
// it on.
//
// Push stamps a bounded waiter with the time it joined, and one method
// (next) chooses whom a Grant serves: a policy of service or shedding by
// age belongs there. A waiter and its channel are reused, so a wait
// allocates nothing.
package waitq

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Push, and of a wait that ends other than by a grant.
var (
	ErrClosed  = errors.New("waitq: closed")       // Close was called
	ErrFull    = errors.New("waitq: full")         // Push found max waiters queued
	ErrExpired = errors.New("waitq: bound passed") // the wait's bound passed first
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
	// deadline (alarm). It stays set when that waiter goes: firing once for
	// nothing costs less than stopping it on every wait.
	reaper *time.Timer
	alarm  int64
	free   sync.Pool // finished waiters, with their channels
}

// Waiter is one goroutine's place in a Queue, from Push until Finish or
// Leave.
type Waiter[T any] struct {
	q          *Queue[T]
	prev, next *Waiter[T]
	queued     bool
	c          chan T // buffered: whoever ends the wait sends once, without blocking
	err        error  // why the wait ended, written before the send
	since      int64  // when it joined, on the queue's clock; 0 for an unbounded wait
	deadline   int64  // since plus its bound; 0 for an unbounded wait
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
	if bound > 0 { // a clock read is not free: only a bound needs it
		w.since = clock()
		w.deadline = w.since + int64(bound)
	}
	q.mu.Lock()
	if q.closed.Load() || q.Len() >= max {
		err := ErrFull
		if q.closed.Load() {
			err = ErrClosed
		}
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

// C returns the channel w's wait ends on. It delivers once: the value a
// Grant handed w, or the zero T when Close or the bound ended the wait;
// Finish then tells which. The caller receives from C itself, in its own
// frame: a woken goroutine pays for every frame it returns through.
func (w *Waiter[T]) C() <-chan T { return w.c }

// Finish reports why w's wait ended, once its value has been received
// from C: nil for a grant, ErrClosed or ErrExpired. It puts w back for
// reuse; w must not be used again.
func (w *Waiter[T]) Finish() error {
	err := w.err
	w.err = nil
	w.q.free.Put(w)
	return err
}

// Leave takes w out of the queue, for a caller that gives up instead of
// receiving from C, and finishes w. If a Grant took w first, Leave returns
// its value and true: the caller hands the value on (to Grant again, or
// back to where it came from). Close or the bound ending w first is not a
// grant.
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
	return v, w.Finish() == nil
}
