// Package waitq is a queue of goroutines waiting for values, served oldest
// first while it drains, in the design of golang.org/x/sync's semaphore: a list under a
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
// Under standing congestion a queue set to shed (Shed) stops serving
// waiters that cannot finish, by the rule of "Fail at Scale" (Maurer, ACM
// Queue 2015): controlled delay with adaptive LIFO. The queue stands when
// it has not been empty at any time in the last interval. A Grant on a
// standing queue serves the newest waiter, which has the most time left,
// and fails every waiter that has waited longer than the target with
// ErrShed. A queue that empties within the interval is served oldest
// first, and its waiters are never shed.
//
// Push stamps a waiter with the time it joined when it is bounded or the
// queue sheds, and one method (next) chooses whom a Grant serves. A waiter
// and its channel are reused, so a wait allocates nothing.
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
	ErrShed    = errors.New("waitq: shed")         // a standing queue failed a waiter past the target
)

// Queue is a queue of waiters for values of type T. The zero Queue is
// empty and ready. A Queue must not be copied after first use.
type Queue[T any] struct {
	n      atomic.Int32 // waiters queued, for Len without the lock
	closed atomic.Bool  // set under mu

	mu         sync.Mutex
	head, tail *Waiter[T] // oldest first
	granted    uint64
	shed       uint64
	// target and interval are the shedding rule (Shed); target 0 sheds
	// nothing. busy is when the queue last went from empty to not.
	target, interval, busy int64
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
	since      int64  // when it joined, on the queue's clock; 0 for an unbounded wait on a queue that does not shed
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

// Shed returns the number of waiters the shedding rule has failed.
func (q *Queue[T]) Shed() uint64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.shed
}

// SetShed sets the shedding rule: while the queue has not been empty at
// any time in the last interval, a Grant serves the newest waiter and
// fails those that have waited longer than target with ErrShed. A target
// of zero (the zero Queue's) never sheds and serves oldest first. Call it
// before the first Push.
func (q *Queue[T]) SetShed(target, interval time.Duration) {
	q.target, q.interval = int64(target), int64(interval)
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
	if bound > 0 || q.target > 0 { // a clock read is not free: only a bound or shedding needs it
		w.since = clock()
	}
	if bound > 0 {
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
		q.busy = w.since
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

// next is the waiter a Grant serves: the oldest, unless the queue sheds
// and stands (see the package doc), when it is the newest and next fails
// the others that have waited longer than the target. A lone waiter is
// served without a clock read: there is nobody to shed or to overtake.
// Callers hold mu.
func (q *Queue[T]) next() *Waiter[T] {
	if q.target == 0 || q.head == q.tail {
		return q.head
	}
	now := clock()
	if now-q.busy < q.interval {
		return q.head
	}
	// Waiters join in about the order of their stamps, so the old ones
	// are at the front: a waiter stamped out of order is shed next time.
	for w := q.head; w != q.tail && now-w.since > q.target; w = q.head {
		q.fail(w, ErrShed)
		q.shed++
	}
	return q.tail
}

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
// Grant handed w, or the zero T when Close, the bound or shedding ended
// the wait;
// Finish then tells which. The caller receives from C itself, in its own
// frame: a woken goroutine pays for every frame it returns through.
func (w *Waiter[T]) C() <-chan T { return w.c }

// Finish reports why w's wait ended, once its value has been received
// from C: nil for a grant, ErrClosed, ErrExpired or ErrShed. It puts w back for
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
// grant, nor is being shed.
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
