package waitq

import (
	"errors"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func push(t testing.TB, q *Queue[int], bound time.Duration) *Waiter[int] {
	t.Helper()
	w, err := q.Push(1<<20, bound)
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return w
}

type result struct {
	v       int
	err     error // Finish's, or errGaveUp
	granted bool  // after errGaveUp: Leave found a grant
}

var errGaveUp = errors.New("gave up")

// wait is a caller's wait on w: a receive from C, or, once done closes,
// Leave.
func wait(w *Waiter[int], done <-chan struct{}) result {
	select {
	case v := <-w.C():
		return result{v: v, err: w.Finish()}
	case <-done:
		v, granted := w.Leave()
		return result{v, errGaveUp, granted}
	}
}

// waitOn runs wait on a goroutine of its own.
func waitOn(w *Waiter[int], done <-chan struct{}) <-chan result {
	out := make(chan result, 1)
	go func() { out <- wait(w, done) }()
	return out
}

func TestGrantsGoToTheOldestWaiterFirst(t *testing.T) {
	var q Queue[int]
	var waits []<-chan result
	for range 5 {
		waits = append(waits, waitOn(push(t, &q, 0), nil))
	}
	for i, w := range waits {
		if !q.Grant(i) {
			t.Fatalf("Grant %d found nobody with %d queued", i, q.Len())
		}
		if r := <-w; r.v != i || r.err != nil {
			t.Fatalf("waiter %d got %d, %v", i, r.v, r.err)
		}
	}
	if q.Grant(9) {
		t.Fatal("Grant on an empty queue reported a waiter")
	}
	if q.Len() != 0 || q.Granted() != 5 {
		t.Fatalf("Len %d, Granted %d; want 0 and 5", q.Len(), q.Granted())
	}
}

// A waiter at the head that gives up does not strand the one behind it
// (golang.org/x/sync issue 37852): the next grant goes to that one.
func TestAHeadThatLeavesDoesNotStrandTheNext(t *testing.T) {
	var q Queue[int]
	head, next := push(t, &q, 0), push(t, &q, 0)
	done := make(chan struct{})
	close(done)
	if r := wait(head, done); r.err != errGaveUp || r.granted {
		t.Fatalf("the head giving up: %+v, want no grant", r)
	}
	w := waitOn(next, nil)
	if !q.Grant(7) {
		t.Fatal("Grant found nobody behind the head that left")
	}
	if r := <-w; r.v != 7 || r.err != nil {
		t.Fatalf("the waiter behind: %d, %v", r.v, r.err)
	}
}

// A grant that races its waiter's giving up is reported by Leave and
// handed on, never lost (golang.org/x/sync commit 14be23e). Many rounds on
// real goroutines; in each, exactly one of the two waiters ends with the
// value.
func TestAGrantRacingLeaveIsHandedOn(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	var q Queue[int]
	raced := 0
	for round := range 1000 {
		racer, behind := push(t, &q, 0), push(t, &q, 0)
		done := make(chan struct{})
		got := make(chan bool, 1)
		go func() {
			r := wait(racer, done)
			switch {
			case r.err == nil && r.v == round: // granted before done: it passes the value on when finished
			case r.err == errGaveUp && r.granted && r.v == round:
				q.Grant(r.v) // gave up with the grant in hand: hand it on
			case r.err == errGaveUp && !r.granted:
			default:
				t.Errorf("round %d: the racer got %+v", round, r)
			}
			got <- r.err == nil
		}()
		var wg sync.WaitGroup
		wg.Go(func() { close(done) })
		wg.Go(func() { q.Grant(round) })
		wg.Wait()
		kept := <-got
		if kept {
			q.Grant(round) // the racer got it before done: it passes it on when finished
		} else {
			raced++
		}
		if r := wait(behind, nil); r.v != round || r.err != nil {
			t.Fatalf("round %d: the waiter behind got %+v", round, r)
		}
		if q.Len() != 0 {
			t.Fatalf("round %d: %d left queued", round, q.Len())
		}
	}
	t.Logf("%d of 1000 rounds ended with the racer giving up or handing on", raced)
}

func TestPushRefusesPastMaxAndAfterClose(t *testing.T) {
	var q Queue[int]
	push(t, &q, 0)
	if _, err := q.Push(1, 0); err != ErrFull {
		t.Fatalf("Push past max: %v, want ErrFull", err)
	}
	q.Close()
	if _, err := q.Push(2, 0); err != ErrClosed || !q.Closed() {
		t.Fatalf("Push after Close: %v, want ErrClosed", err)
	}
}

func TestCloseFailsEveryWaiter(t *testing.T) {
	var q Queue[int]
	var waits []<-chan result
	for range 3 {
		waits = append(waits, waitOn(push(t, &q, 0), make(chan struct{})))
	}
	q.Close()
	q.Close()
	for i, w := range waits {
		if r := <-w; r.err != ErrClosed {
			t.Fatalf("waiter %d: %v, want ErrClosed", i, r.err)
		}
	}
	if q.Len() != 0 || q.Grant(1) {
		t.Fatalf("after Close: Len %d, or a grant found a waiter", q.Len())
	}
}

// A bounded wait ends at its bound to the tick; an unbounded one behind it
// does not; a bounded waiter that joins after the reaper was set for an
// earlier one gets its whole bound.
func TestBoundedWaitsExpireAtTheirBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Queue[int]
		start := time.Now()
		first := waitOn(push(t, &q, 2*time.Second), nil)
		free := waitOn(push(t, &q, 0), nil)
		time.Sleep(time.Second)
		second := waitOn(push(t, &q, 2*time.Second), nil)
		if r := <-first; r.err != ErrExpired || time.Since(start) != 2*time.Second {
			t.Fatalf("first: %v after %v, want ErrExpired after 2s", r.err, time.Since(start))
		}
		if r := <-second; r.err != ErrExpired || time.Since(start) != 3*time.Second {
			t.Fatalf("second: %v after %v, want ErrExpired after 3s", r.err, time.Since(start))
		}
		if !q.Grant(1) || (<-free).v != 1 {
			t.Fatal("the unbounded waiter was not left for the grant")
		}
		time.Sleep(time.Second)
		later := waitOn(push(t, &q, time.Second), nil)
		at := time.Now()
		if r := <-later; r.err != ErrExpired || time.Since(at) != time.Second {
			t.Fatalf("later: %v after %v, want ErrExpired after 1s", r.err, time.Since(at))
		}
	})
}

// A waiter that gives up after its bound has ended its wait finds no grant
// to hand on, and leaves nothing queued.
func TestLeaveAfterExpiryIsNotAGrant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Queue[int]
		w := push(t, &q, time.Second)
		time.Sleep(2 * time.Second) // the reaper ends w before it gives up
		if _, granted := w.Leave(); granted {
			t.Fatal("Leave after expiry reported a grant")
		}
		if q.Len() != 0 {
			t.Fatalf("Len %d after expiry", q.Len())
		}
	})
}

func TestAWaitAllocatesNothing(t *testing.T) {
	var fifo, shedding Queue[int]
	shedding.SetShed(time.Millisecond, time.Millisecond)
	for _, q := range []*Queue[int]{&fifo, &shedding} {
		for _, bound := range []time.Duration{0, time.Hour} {
			allocs := testing.AllocsPerRun(1000, func() {
				w, err := q.Push(1, bound)
				if err != nil || !q.Grant(1) {
					t.Fatal(err)
				}
				if r := wait(w, nil); r.err != nil {
					t.Fatal(r.err)
				}
			})
			if allocs != 0 {
				t.Errorf("shedding %v, bound %v: %v allocations per wait", q.target != 0, bound, allocs)
			}
		}
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := []error{ErrClosed, ErrFull, ErrExpired, ErrShed}
	for i, a := range errs {
		for _, b := range errs[i+1:] {
			if errors.Is(a, b) {
				t.Errorf("%v is %v", a, b)
			}
		}
	}
}

// shedTarget and shedInterval are Fail at Scale's rule, as lb's defaults.
const shedTarget, shedInterval = 5 * time.Millisecond, 100 * time.Millisecond

// grantAll grants 0, 1, ... while anyone waits, and returns who got what
// in the order of waits, and how each wait ended.
func grantAll(t *testing.T, q *Queue[int], waits []<-chan result) []result {
	t.Helper()
	for i := 0; q.Len() > 0; i++ {
		q.Grant(i)
	}
	rs := make([]result, len(waits))
	for i, w := range waits {
		rs[i] = <-w
	}
	return rs
}

// A shedding queue that drains within the interval serves oldest first and
// sheds nobody, however long past the target its waiters have waited.
func TestAShedQueueThatDrainsIsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Queue[int]
		q.SetShed(shedTarget, shedInterval)
		for round := range 5 {
			var waits []<-chan result
			for range 4 {
				waits = append(waits, waitOn(push(t, &q, 0), nil))
			}
			time.Sleep(shedInterval - time.Millisecond) // past the target, short of the interval
			for i, r := range grantAll(t, &q, waits) {
				if r.err != nil || r.v != i {
					t.Fatalf("round %d: waiter %d got %d, %v; want %d, nil", round, i, r.v, r.err, i)
				}
			}
		}
		if q.Shed() != 0 || q.Granted() != 20 {
			t.Fatalf("Shed %d, Granted %d; want 0 and 20", q.Shed(), q.Granted())
		}
	})
}

// A queue that has not been empty for an interval serves the newest first
// and fails the waiters older than the target; once it empties, it is
// served oldest first again.
func TestAStandingQueueShedsAndServesTheNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Queue[int]
		q.SetShed(shedTarget, shedInterval)
		old := waitOn(push(t, &q, 0), nil)
		time.Sleep(shedInterval)
		mid := waitOn(push(t, &q, 0), nil)
		time.Sleep(shedTarget) // mid is at the target, not past it
		newest := waitOn(push(t, &q, 0), nil)
		if !q.Grant(1) {
			t.Fatal("Grant found nobody")
		}
		if r := <-newest; r.err != nil || r.v != 1 {
			t.Fatalf("the newest: %d, %v; want the grant", r.v, r.err)
		}
		if r := <-old; r.err != ErrShed {
			t.Fatalf("the oldest, past the target: %v, want ErrShed", r.err)
		}
		if q.Len() != 1 || q.Shed() != 1 {
			t.Fatalf("Len %d, Shed %d; want mid alone left, 1 shed", q.Len(), q.Shed())
		}
		if !q.Grant(2) {
			t.Fatal("Grant found nobody")
		}
		if r := <-mid; r.err != nil || r.v != 2 {
			t.Fatalf("mid, alone at the target: %d, %v; want the grant", r.v, r.err)
		}

		// Empty now: the next waiters are served oldest first even past
		// the target.
		var waits []<-chan result
		for range 3 {
			waits = append(waits, waitOn(push(t, &q, 0), nil))
		}
		time.Sleep(shedInterval / 2)
		for i, r := range grantAll(t, &q, waits) {
			if r.err != nil || r.v != i {
				t.Fatalf("after the queue emptied, waiter %d got %d, %v; want %d", i, r.v, r.err, i)
			}
		}
	})
}

// A lone waiter on a standing queue is served, however long it waited:
// shedding it would waste the grant.
func TestALoneWaiterIsNeverShed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Queue[int]
		q.SetShed(shedTarget, shedInterval)
		w := waitOn(push(t, &q, 0), nil)
		time.Sleep(10 * shedInterval)
		if !q.Grant(3) {
			t.Fatal("Grant found nobody")
		}
		if r := <-w; r.err != nil || r.v != 3 || q.Shed() != 0 {
			t.Fatalf("the lone waiter: %d, %v, Shed %d", r.v, r.err, q.Shed())
		}
	})
}

// Without SetShed a standing queue stays FIFO and sheds nothing.
func TestTheZeroQueueNeverSheds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Queue[int]
		var waits []<-chan result
		for range 3 {
			waits = append(waits, waitOn(push(t, &q, 0), nil))
			time.Sleep(shedInterval)
		}
		for i, r := range grantAll(t, &q, waits) {
			if r.err != nil || r.v != i {
				t.Fatalf("waiter %d got %d, %v; want %d", i, r.v, r.err, i)
			}
		}
	})
}
