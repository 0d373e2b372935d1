package lb

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"
)

func limited(t testing.TB, limit int, addrs ...string) *Pool {
	t.Helper()
	return mustNew(t, Config{MaxConcurrency: limit, MaxEjectedPercent: 100}, addrs...)
}

// waitFor polls cond for up to 5 s: the tests below run real goroutines and
// use it only to order steps, never to assert a timing.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, 5*time.Second, what, cond)
}

type waitResult struct {
	l   Lease
	err error
}

// queueWaiter starts a PickWait and waits until it is queued.
func queueWaiter(t testing.TB, p *Pool, ctx context.Context) <-chan waitResult {
	t.Helper()
	before := p.Stats().Waiting
	out := make(chan waitResult, 1)
	go func() {
		l, err := p.PickWait(ctx)
		out <- waitResult{l, err}
	}()
	waitFor(t, "the waiter to queue", func() bool { return p.Stats().Waiting > before })
	return out
}

func noneInFlight(t testing.TB, p *Pool) {
	t.Helper()
	for _, e := range p.Endpoints() {
		if e.InFlight != 0 {
			t.Errorf("%s has %d leases in flight at the end", e.Addr, e.InFlight)
		}
	}
}

func TestPickNeverLeasesAnEndpointAtItsLimit(t *testing.T) {
	for _, pol := range Policies() {
		t.Run(pol.String(), func(t *testing.T) {
			p := mustNew(t, Config{Policy: pol, MaxConcurrency: 2}, "a:1", "b:1", "c:1")
			var held []Lease
			for range 6 {
				l, err := p.Pick()
				if err != nil {
					t.Fatalf("Pick %d of 6 under a limit of 2 on 3 endpoints: %v", len(held)+1, err)
				}
				held = append(held, l)
			}
			for _, e := range p.Endpoints() {
				if e.InFlight != 2 {
					t.Fatalf("%s has %d in flight, want the limit 2", e.Addr, e.InFlight)
				}
			}
			if _, err := p.Pick(); !errors.Is(err, ErrSaturated) || errors.Is(err, ErrNoEndpoint) {
				t.Fatalf("Pick with every endpoint at its limit: %v, want ErrSaturated", err)
			}
			if _, err := p.PickKey("k"); !errors.Is(err, ErrSaturated) {
				t.Fatalf("PickKey with every endpoint at its limit: %v, want ErrSaturated", err)
			}
			held[0].Done(nil)
			if l, err := p.Pick(); err != nil {
				t.Fatalf("Pick after a release: %v", err)
			} else {
				held[0] = l
			}
			for i := range held {
				held[i].Done(nil)
			}
			noneInFlight(t, p)
			if s := p.Stats(); s.Saturations != 2 {
				t.Errorf("Stats().Saturations = %d, want 2", s.Saturations)
			}
		})
	}
}

// Probes respect the limit too: when a probe's window ends while it is
// still in flight, the endpoint is due again but at its limit of 1, so no
// second probe is leased until the first one ends.
func TestAProbeRespectsTheLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{MaxConcurrency: 1, EjectAfter: 1, EjectFor: time.Second, ProbeTimeout: time.Second,
			NoJitter: true, MaxEjectedPercent: 100}, "a:1")
		l, _ := p.Pick()
		l.Done(errBackend)
		time.Sleep(time.Second)
		synctest.Wait()
		first, err := p.Pick()
		if err != nil || !first.Probe() {
			t.Fatalf("after the cooldown: %v, probe %v", err, first.Probe())
		}
		time.Sleep(time.Second) // the probe's window ends; it is still in flight
		synctest.Wait()
		if l, err := p.Pick(); err == nil {
			t.Fatalf("a second probe (probe %v) leased while the first holds the only slot", l.Probe())
		}
		if e := mustStatus(t, p, "a:1"); e.InFlight != 1 {
			t.Fatalf("in flight %d, want 1", e.InFlight)
		}
		first.Done(nil) // superseded: an ordinary outcome on an ejected endpoint
		second, err := p.Pick()
		if err != nil || !second.Probe() {
			t.Fatalf("once the slot frees: %v, probe %v", err, second.Probe())
		}
		second.Done(nil)
		if e := mustStatus(t, p, "a:1"); e.State != Up || e.InFlight != 0 {
			t.Fatalf("after the second probe's success: %+v", e)
		}
	})
}

// A freed slot goes to the oldest waiter, in order.
func TestPickWaitGrantsInFirstInFirstOutOrder(t *testing.T) {
	p := limited(t, 1, "a:1")
	held, _ := p.Pick()
	var waiters []<-chan waitResult
	for range 5 {
		waiters = append(waiters, queueWaiter(t, p, context.Background()))
	}
	for i, w := range waiters {
		held.Done(nil)
		r := <-w
		if r.err != nil {
			t.Fatalf("waiter %d: %v", i, r.err)
		}
		for j, later := range waiters[i+1:] {
			select {
			case <-later:
				t.Fatalf("waiter %d was served before waiter %d's lease ended", i+1+j, i)
			default:
			}
		}
		held = r.l
	}
	held.Done(nil)
	noneInFlight(t, p)
	if s := p.Stats(); s.Grants != 5 || s.Waiting != 0 {
		t.Fatalf("Stats() = %+v, want 5 grants and nobody waiting", s)
	}
}

// New arrivals, Pick or PickWait, do not overtake a queued waiter.
func TestNewArrivalsDoNotOvertakeQueuedWaiters(t *testing.T) {
	p := limited(t, 1, "a:1")
	held, _ := p.Pick()
	first := queueWaiter(t, p, context.Background())
	second := queueWaiter(t, p, context.Background())
	held.Done(nil)
	r := <-first
	if r.err != nil {
		t.Fatal(r.err)
	}
	if _, err := p.Pick(); !errors.Is(err, ErrSaturated) {
		t.Fatalf("Pick with a waiter queued: %v, want ErrSaturated", err)
	}
	r.l.Done(nil)
	if r2 := <-second; r2.err != nil {
		t.Fatal(r2.err)
	} else {
		r2.l.Done(nil)
	}
	noneInFlight(t, p)
}

// A cancelled waiter at the head does not strand those behind it
// (golang.org/x/sync issue 37852).
func TestACancelledHeadWaiterDoesNotStrandTheNext(t *testing.T) {
	p := limited(t, 1, "a:1")
	held, _ := p.Pick()
	ctx, cancel := context.WithCancel(context.Background())
	head := queueWaiter(t, p, ctx)
	next := queueWaiter(t, p, context.Background())
	cancel()
	if r := <-head; !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled head waiter: %v, want context.Canceled", r.err)
	}
	held.Done(nil)
	r := <-next
	if r.err != nil {
		t.Fatalf("the waiter behind a cancelled head: %v", r.err)
	}
	r.l.Done(nil)
	noneInFlight(t, p)
}

// A grant that races its waiter's cancellation goes to the next waiter and
// is never leaked (golang.org/x/sync commit 14be23e); and a release that
// races a new waiter's enqueue is not lost (marusama/semaphore issue 2).
// Many rounds on real goroutines, each ending with every count at zero.
func TestGrantsRacingCancellationAndEnqueueAreNeverLost(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	p := limited(t, 1, "a:1")
	for round := range 300 {
		held, err := p.Pick()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		racer := make(chan waitResult, 1)
		go func() { l, err := p.PickWait(ctx); racer <- waitResult{l, err} }()
		behind := make(chan waitResult, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			l, err := p.PickWait(ctx)
			behind <- waitResult{l, err}
		}()
		var wg sync.WaitGroup
		wg.Go(cancel)
		wg.Go(func() { held.Done(nil) })
		wg.Wait()
		r := <-racer
		if r.err == nil {
			r.l.Done(nil) // it won the grant: its release goes to the next
		}
		r2 := <-behind
		if r2.err != nil {
			t.Fatalf("round %d: the waiter behind lost its grant: %v", round, r2.err)
		}
		r2.l.Done(nil)
		if e := mustStatus(t, p, "a:1"); e.InFlight != 0 || p.Stats().Waiting != 0 {
			t.Fatalf("round %d: %d in flight, %d waiting", round, e.InFlight, p.Stats().Waiting)
		}
	}
}

// Under a storm of waiters with deadlines, no endpoint ever goes past its
// limit, every wait ends with a lease, its context's error or, if the
// queue stood (a slow run), ErrShed, and nothing is left in flight or
// waiting.
func TestPickWaitStormKeepsTheLimit(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	const limit = 3
	p := limited(t, limit, "a:1", "b:1")
	goroutines := runtime.NumGoroutine()
	var over, served, timedOut, shed atomic.Int64
	holding := map[string]*atomic.Int64{"a:1": new(atomic.Int64), "b:1": new(atomic.Int64)}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 100 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+(w+i)%5)*time.Millisecond)
				l, err := p.PickWait(ctx)
				cancel()
				switch {
				case errors.Is(err, ErrShed):
					shed.Add(1)
					continue
				case err != nil:
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("PickWait: %v", err)
					}
					timedOut.Add(1)
					continue
				}
				served.Add(1)
				h := holding[l.Endpoint()]
				if h.Add(1) > limit || mustStatus(t, p, l.Endpoint()).InFlight > limit {
					over.Add(1)
				}
				runtime.Gosched()
				h.Add(-1)
				l.Done(nil)
			}
		})
	}
	wg.Wait()
	if over.Load() != 0 {
		t.Fatalf("an endpoint went past its limit %d times", over.Load())
	}
	noneInFlight(t, p)
	if s := p.Stats(); s.Waiting != 0 || s.Timeouts != uint64(timedOut.Load()) || s.Shed != uint64(shed.Load()) {
		t.Fatalf("Stats() = %+v after %d timeouts and %d shed", s, timedOut.Load(), shed.Load())
	}
	waitFor(t, "the waiters' goroutines to end", func() bool { return runtime.NumGoroutine() <= goroutines })
	t.Logf("%d served, %d timed out, %d shed", served.Load(), timedOut.Load(), shed.Load())
}

// Deadlines are honoured to the tick: a context's, and MaxWait when the
// context has none.
func TestPickWaitHonoursDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{MaxConcurrency: 1, MaxWait: 2 * time.Second}, "a:1")
		held, _ := p.Pick()
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := p.PickWait(ctx); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 100*time.Millisecond {
			t.Fatalf("PickWait with a 100 ms deadline: %v after %v", err, time.Since(start))
		}
		start = time.Now()
		if _, err := p.PickWait(context.Background()); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 2*time.Second {
			t.Fatalf("PickWait without a deadline: %v after %v, want MaxWait (2 s)", err, time.Since(start))
		}
		held.Done(nil)
		if s := p.Stats(); s.Timeouts != 2 {
			t.Fatalf("Stats().Timeouts = %d, want 2", s.Timeouts)
		}
	})
}

// PickWait waits for endpoints too: on an empty pool until one is added,
// and at 100% ejected until a probe falls due.
func TestPickWaitWaitsForAnEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Second, NoJitter: true, MaxEjectedPercent: 100})
		got := make(chan waitResult, 1)
		go func() { l, err := p.PickWait(context.Background()); got <- waitResult{l, err} }()
		synctest.Wait()
		if err := p.Add("a:1"); err != nil {
			t.Fatal(err)
		}
		r := <-got
		if r.err != nil || r.l.Endpoint() != "a:1" {
			t.Fatalf("PickWait on an empty pool after Add: %q, %v", r.l.Endpoint(), r.err)
		}
		r.l.Done(errBackend) // ejected for 1 s
		start := time.Now()
		l, err := p.PickWait(context.Background())
		if err != nil || !l.Probe() || time.Since(start) != time.Second {
			t.Fatalf("PickWait with every endpoint out: probe %v, %v after %v", l.Probe(), err, time.Since(start))
		}
		l.Done(nil)
	})
}

func TestMaxWaitersBoundsTheQueue(t *testing.T) {
	p := mustNew(t, Config{MaxConcurrency: 1, MaxWaiters: 2}, "a:1")
	held, _ := p.Pick()
	ctx, cancel := context.WithCancel(context.Background())
	a, b := queueWaiter(t, p, ctx), queueWaiter(t, p, ctx)
	if _, err := p.PickWait(ctx); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("a third waiter: %v, want ErrQueueFull", err)
	}
	cancel()
	<-a
	<-b
	held.Done(nil)
	if s := p.Stats(); s.QueueFull != 1 || s.Timeouts != 2 {
		t.Fatalf("Stats() = %+v", s)
	}
}

// Stats.Saturations counts the refusals that public picks return, not the
// PickWait calls that queue, and a PickWait that queues still tells
// subscribers the pool is saturated.
func TestSaturationsCountRefusalsNotWaits(t *testing.T) {
	p := mustNew(t, Config{MaxConcurrency: 1}, "a:1")
	s, err := p.Subscribe(SubscribeOptions{Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	held, _ := p.Pick()
	waiters := []<-chan waitResult{queueWaiter(t, p, context.Background()), queueWaiter(t, p, context.Background())}
	if got := p.Stats().Saturations; got != 0 {
		t.Fatalf("Saturations = %d after two PickWait calls queued, want 0", got)
	}
	for _, pick := range []func() (Lease, error){p.Pick, func() (Lease, error) { return p.PickKey("k") }, func() (Lease, error) { return p.PickExcept("b:1") }} {
		if _, err := pick(); !errors.Is(err, ErrSaturated) {
			t.Fatalf("a pick with waiters queued: %v, want ErrSaturated", err)
		}
	}
	if got := p.Stats().Saturations; got != 3 {
		t.Fatalf("Saturations = %d after three refused picks, want 3", got)
	}
	held.Done(nil)
	for _, w := range waiters {
		r := <-w
		if r.err != nil {
			t.Fatal(r.err)
		}
		r.l.Done(nil)
	}
	if b := <-s.C(); len(b.Events) == 0 || b.Events[0].Kind != EventSaturated {
		t.Fatalf("events %v, want EventSaturated first", b.Events)
	}
}

// PickWait on a closed pool is ErrClosed even when a slot is free: Close
// ends waiting for good, and a PickWait is a wait.
func TestPickWaitOnAClosedPoolWithAFreeSlotIsErrClosed(t *testing.T) {
	p := mustNew(t, Config{MaxConcurrency: 1}, "a:1")
	p.Close()
	if l, err := p.PickWait(context.Background()); !errors.Is(err, ErrClosed) {
		l.Done(nil)
		t.Fatalf("PickWait on a closed pool with a free slot: %v, want ErrClosed", err)
	}
}

// Close ends waiting for good; Registry.Delete closes its pool.
func TestCloseFailsWaitersAndRegistryDeleteCloses(t *testing.T) {
	r := NewRegistry()
	p, err := r.Ensure("svc", Config{MaxConcurrency: 1}, "a:1")
	if err != nil {
		t.Fatal(err)
	}
	held, _ := p.Pick()
	w := queueWaiter(t, p, context.Background())
	r.Delete("svc")
	if res := <-w; !errors.Is(res.err, ErrClosed) {
		t.Fatalf("a waiter when its pool was deleted: %v, want ErrClosed", res.err)
	}
	if _, err := p.PickWait(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("PickWait after Close: %v, want ErrClosed", err)
	}
	held.Done(nil)
	if l, err := p.Pick(); err != nil {
		t.Fatalf("Pick after Close: %v; leases and Pick go on", err)
	} else {
		l.Done(nil)
	}
}

func TestALimitedPickAndDoneAllocateNothing(t *testing.T) {
	for _, pol := range Policies() {
		p := mustNew(t, Config{Policy: pol, MaxConcurrency: 100}, addrs(8)...)
		if n := pickDoneAllocs(1000, p.Pick, nil); n != 0 {
			t.Errorf("%v: %v allocations per limited Pick+Done", pol, n)
		}
	}
}

// A failed lease's slot is not handed to a waiter before the failure
// counts: with EjectAfter 1 the failing endpoint is ejected first, and the
// waiter gets the next slot freed on the healthy one.
func TestAWaiterIsNotHandedTheEndpointThatJustFailed(t *testing.T) {
	p := mustNew(t, Config{MaxConcurrency: 1, EjectAfter: 1, EjectFor: time.Hour}, "a:1", "b:1")
	first, _ := p.Pick()
	second, err := p.Pick()
	if err != nil {
		t.Fatal(err)
	}
	w := queueWaiter(t, p, context.Background())
	failing, healthy := first, second
	failing.Done(errBackend)
	if s := p.Stats(); s.Waiting != 1 || s.Grants != 0 {
		t.Fatalf("after the failure: %+v; want the waiter still queued", s)
	}
	want := healthy.Endpoint()
	healthy.Done(nil)
	r := <-w
	if r.err != nil || r.l.Endpoint() != want {
		t.Fatalf("waiter got %q, %v; want %q", r.l.Endpoint(), r.err, want)
	}
	r.l.Done(nil)
	noneInFlight(t, p)
}

// A successful Done with a waiter queued passes its slot on: the count on
// the endpoint never drops below the limit in between, so a Pick racing
// the hand-off cannot slip in, and the waiter's lease is on that endpoint.
func TestASuccessfulDonePassesItsSlotToTheHeadWaiter(t *testing.T) {
	p := limited(t, 1, "a:1")
	held, _ := p.Pick()
	c := held.c
	var low atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // watches the count through the hand-offs
		for {
			select {
			case <-stop:
				return
			default:
			}
			if c.inFlight() == 0 && p.queue.waiting() {
				low.Store(true)
			}
		}
	})
	for range 200 {
		w := queueWaiter(t, p, context.Background())
		held.Done(nil)
		r := <-w
		if r.err != nil || r.l.c != c {
			t.Fatalf("waiter: %v on %q", r.err, r.l.Endpoint())
		}
		held = r.l
	}
	close(stop)
	wg.Wait()
	held.Done(nil)
	if low.Load() {
		t.Fatal("the slot went back to the endpoint while a waiter was queued")
	}
	if s := p.Stats(); s.Grants != 200 {
		t.Fatalf("Stats().Grants = %d, want 200", s.Grants)
	}
	noneInFlight(t, p)
}

// The MaxWait reaper stays armed for an earlier waiter after the queue
// empties; a later bounded waiter still gets its whole MaxWait, from its
// own start, not the earlier waiter's.
func TestAWaiterAfterAnEmptiedQueueGetsItsWholeMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{MaxConcurrency: 1, MaxWait: 2 * time.Second}, "a:1")
		held, _ := p.Pick()
		first := make(chan waitResult, 1)
		go func() {
			l, err := p.PickWait(context.Background())
			first <- waitResult{l, err}
		}()
		synctest.Wait()
		time.Sleep(time.Second)
		held.Done(nil)
		r := <-first
		if r.err != nil {
			t.Fatalf("first waiter: %v", r.err)
		}
		start := time.Now()
		if _, err := p.PickWait(context.Background()); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != 2*time.Second {
			t.Fatalf("second waiter: %v after %v, want MaxWait (2 s) from its own start", err, time.Since(start))
		}
		r.l.Done(nil)
	})
}

// Saturation events: the first refusal says saturated; a slot passed
// straight to a waiter keeps the pool full, so no drained event; the slot
// given back with nobody waiting says drained, once.
func TestSaturatedAndDrainedEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := limited(t, 1, "a:1")
		s, _ := p.Subscribe(SubscribeOptions{})
		defer s.Close()
		held, _ := p.Pick()
		if _, err := p.Pick(); !errors.Is(err, ErrSaturated) {
			t.Fatalf("second Pick: %v, want ErrSaturated", err)
		}
		for range 3 { // hand-offs: the slot goes from waiter to waiter
			got := make(chan Lease, 1)
			go func() {
				l, err := p.PickWait(context.Background())
				if err != nil {
					t.Error(err)
				}
				got <- l
			}()
			synctest.Wait()
			held.Done(nil)
			held = <-got
		}
		held.Done(nil)
		events, _, _ := collectEvents(t, s, 2, time.Second)
		time.Sleep(time.Second) // anything later arrives by now
		select {
		case b := <-s.C():
			events = append(events, b.Events...)
		default:
		}
		var kinds []EventKind
		for _, e := range events {
			kinds = append(kinds, e.Kind)
		}
		if len(kinds) != 2 || kinds[0] != EventSaturated || kinds[1] != EventDrained {
			t.Fatalf("events %v, want [saturated drained]", kinds)
		}
	})
}

// Under churn nothing is lost or granted twice: goroutines queue without
// deadlines, hold briefly and end their leases with successes (a Done hands
// its slot straight to the oldest waiter), failures (the slot is given back
// and the queue served by the policy) and
// cancellations racing grants. A waiter left parked for good would never
// return (MaxWait is far past the test's bound); a slot granted twice would
// put two holders on the endpoint at once; a grant lost to a cancelled
// waiter would stay in flight at the end.
func TestPickWaitChurnLosesNothing(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	p := mustNew(t, Config{MaxConcurrency: 1, MaxWait: time.Hour, EjectAfter: 255}, "a:1")
	failure := errors.New("failed")
	var wg sync.WaitGroup
	var served, cancelled, holders, over atomic.Int64
	for g := range 6 {
		wg.Go(func() {
			for i := range 300 {
				ctx, cancel := context.Background(), context.CancelFunc(func() {})
				if (g+i)%5 == 0 {
					ctx, cancel = context.WithCancel(context.Background())
					go cancel() // races the grant
				}
				l, err := p.PickWait(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						t.Errorf("PickWait: %v", err)
					}
					cancelled.Add(1)
					continue
				}
				served.Add(1)
				if holders.Add(1) != 1 {
					over.Add(1)
				}
				runtime.Gosched()
				holders.Add(-1)
				if i%7 == 3 {
					l.Done(failure)
				} else {
					l.Done(nil)
				}
			}
		})
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(60 * time.Second):
		t.Fatalf("waiters stranded: %+v, %d served, %d cancelled", p.Stats(), served.Load(), cancelled.Load())
	}
	if over.Load() != 0 {
		t.Fatalf("the slot had two holders %d times", over.Load())
	}
	noneInFlight(t, p)
	// A grant that raced its waiter's cancellation is passed on and granted
	// again, so grants may exceed the leases served, by the cancellations at
	// most.
	if s := p.Stats(); s.Waiting != 0 || s.Grants > uint64(served.Load()+cancelled.Load()) {
		t.Fatalf("Stats() = %+v after %d leases and %d cancellations", s, served.Load(), cancelled.Load())
	}
}

// shedWaiter starts a PickWait in a synctest bubble and returns once it
// is queued.
func shedWaiter(p *Pool) <-chan waitResult {
	out := make(chan waitResult, 1)
	go func() {
		l, err := p.PickWait(context.Background())
		out <- waitResult{l, err}
	}()
	synctest.Wait()
	return out
}

// A queue that has not emptied for WaitInterval gives a freed slot to the
// newest waiter and sheds those past WaitTarget with ErrShed, counted
// apart from timeouts; once it empties it is first in first out again,
// past the target too. With NoShed the standing queue stays FIFO.
func TestAStandingQueueShedsAndServesTheNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := limited(t, 1, "a:1")
		held, _ := p.Pick()
		old := shedWaiter(p)
		time.Sleep(DefaultWaitInterval)
		mid, newest := shedWaiter(p), shedWaiter(p)
		held.Done(nil)
		r := <-newest
		if r.err != nil {
			t.Fatalf("the newest waiter: %v, want the slot", r.err)
		}
		if o := <-old; !errors.Is(o.err, ErrShed) {
			t.Fatalf("the oldest waiter, %v past the target: %v, want ErrShed", DefaultWaitInterval, o.err)
		}
		if s := p.Stats(); s.Shed != 1 || s.Timeouts != 0 || s.Waiting != 1 {
			t.Fatalf("Stats() = %+v, want 1 shed, no timeouts, mid waiting", s)
		}
		r.l.Done(nil)
		if m := <-mid; m.err != nil {
			t.Fatalf("mid, within the target: %v", m.err)
		} else {
			held = m.l
		}

		first, second := shedWaiter(p), shedWaiter(p) // the queue emptied: FIFO
		time.Sleep(DefaultWaitInterval / 2)
		held.Done(nil)
		if f := <-first; f.err != nil {
			t.Fatalf("the first after the queue emptied: %v, want the slot", f.err)
		} else {
			f.l.Done(nil)
		}
		if s := <-second; s.err != nil {
			t.Fatalf("the second after the queue emptied: %v", s.err)
		} else {
			s.l.Done(nil)
		}
		noneInFlight(t, p)

		fifo := mustNew(t, Config{MaxConcurrency: 1, NoShed: true}, "a:1")
		held, _ = fifo.Pick()
		old = shedWaiter(fifo)
		time.Sleep(DefaultWaitInterval)
		newest = shedWaiter(fifo)
		held.Done(nil)
		if o := <-old; o.err != nil {
			t.Fatalf("NoShed: the oldest waiter got %v, want the slot", o.err)
		} else {
			o.l.Done(nil)
		}
		if n := <-newest; n.err != nil || fifo.Stats().Shed != 0 {
			t.Fatalf("NoShed: the newest waiter got %v, %d shed", n.err, fifo.Stats().Shed)
		} else {
			n.l.Done(nil)
		}
	})
}

// A Done whose place passes straight to a waiter still counts as a lease
// ended: outlier detection counts requests by it.
func TestAPlacePassedOnCountsItsLeaseEnded(t *testing.T) {
	p := mustNew(t, Config{MaxConcurrency: 1}, "a:1")
	c := p.view.Load().cores[0]
	l, err := p.Pick()
	if err != nil {
		t.Fatal(err)
	}
	w := queueWaiter(t, p, context.Background())
	l.Done(nil) // passes its place on
	r := <-w
	if r.err != nil {
		t.Fatal(r.err)
	}
	if c.ended() != 1 || c.inFlight() != 1 {
		t.Fatalf("after a place passed on: ended %d, in flight %d; want 1, 1", c.ended(), c.inFlight())
	}
	r.l.Done(nil)
	if c.ended() != 2 || c.inFlight() != 0 {
		t.Fatalf("after both Dones: ended %d, in flight %d; want 2, 0", c.ended(), c.inFlight())
	}
}
