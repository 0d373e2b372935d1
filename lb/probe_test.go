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
)

func probeConfig() Config {
	return Config{EjectAfter: 1, EjectFor: time.Second, ProbeTimeout: 3 * time.Second, NoJitter: true, MaxEjectedPercent: 50}
}

// ejectedPool returns a pool of a:1 (ejected, cooldown 1s) and b:1, c:1, d:1.
func ejectedPool(t *testing.T) *Pool {
	p := mustNew(t, probeConfig(), "a:1", "b:1", "c:1", "d:1")
	failTimes(t, p, "a:1", 1)
	if e := mustStatus(t, p, "a:1"); e.State != Ejected {
		t.Fatalf("setup: %+v", e)
	}
	return p
}

// Once the cooldown has passed, 64 goroutines pick at once: exactly one is
// handed the ejected endpoint, as a probe; all the others get healthy ones.
func TestExactlyOneConcurrentPickGetsTheProbe(t *testing.T) {
	for round := range 50 {
		synctest.Test(t, func(t *testing.T) {
			p := ejectedPool(t)
			time.Sleep(time.Second)
			synctest.Wait()
			var probes, onEjected atomic.Int64
			start := make(chan struct{})
			leases := make([]Lease, 64)
			var wg sync.WaitGroup
			for g := range leases {
				wg.Go(func() {
					<-start
					l, err := p.Pick()
					if err != nil {
						t.Error(err)
						return
					}
					if l.Probe() {
						probes.Add(1)
					}
					if l.Endpoint() == "a:1" {
						onEjected.Add(1)
					}
					leases[g] = l
				})
			}
			close(start)
			wg.Wait()
			if probes.Load() != 1 || onEjected.Load() != 1 {
				t.Fatalf("round %d: %d probes, %d leases on the ejected endpoint; want 1 and 1", round, probes.Load(), onEjected.Load())
			}
			for i := range leases {
				leases[i].Done(nil)
			}
		})
	}
}

func TestADueProbeIsServedBeforeNormalSelection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ejectedPool(t)
		time.Sleep(time.Second)
		synctest.Wait()
		l, err := p.Pick()
		if err != nil || !l.Probe() || l.Endpoint() != "a:1" {
			t.Fatalf("first Pick after the cooldown = %q probe=%v %v", l.Endpoint(), l.Probe(), err)
		}
		if e := mustStatus(t, p, "a:1"); e.State != Probing || !e.Until.Equal(time.Now().Add(3*time.Second)) {
			t.Fatalf("probing endpoint: %+v, want probing until now+ProbeTimeout", e)
		}
		if seen := pickCounts(t, p, 200); seen["a:1"] != 0 {
			t.Fatalf("a probing endpoint was picked again: %v", seen)
		}
		l.Done(nil)
	})
}

func TestProbeSuccessReinstates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ejectedPool(t)
		time.Sleep(time.Second)
		synctest.Wait()
		l, _ := p.Pick()
		l.Done(nil)
		if e := mustStatus(t, p, "a:1"); e.State != Up || e.Streak != 0 || e.Ejections != 0 || !e.Until.IsZero() {
			t.Fatalf("after the probe's success: %+v", e)
		}
		if p.counts.ejected.Load() != 0 {
			t.Fatalf("ejection budget not given back: %d", p.counts.ejected.Load())
		}
		if seen := pickCounts(t, p, 400); seen["a:1"] == 0 {
			t.Fatal("reinstated endpoint never picked")
		}
	})
}

func TestProbeFailureEjectsAgainForLonger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ejectedPool(t)
		time.Sleep(time.Second)
		synctest.Wait()
		l, _ := p.Pick()
		l.Done(errBackend)
		e := mustStatus(t, p, "a:1")
		if e.State != Ejected || e.Ejections != 2 || e.Until.Sub(time.Now()) != 2*time.Second {
			t.Fatalf("after the probe's failure: %+v, want ejected for 2s", e)
		}
	})
}

// A probe that never reports does not keep its endpoint out: after the
// probe timeout the next Pick is handed a new probe; the lost probe's late
// report then changes nothing, as the new probe owns the endpoint.
func TestAnUnreportedProbeIsLeasedAgainAfterTheTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ejectedPool(t)
		time.Sleep(time.Second)
		synctest.Wait()
		lost, _ := p.Pick()
		if !lost.Probe() {
			t.Fatal("setup: no probe")
		}
		time.Sleep(3*time.Second - time.Microsecond)
		synctest.Wait()
		if seen := pickCounts(t, p, 100); seen["a:1"] != 0 {
			t.Fatal("a second probe inside the first one's window")
		}
		time.Sleep(time.Microsecond)
		synctest.Wait()
		again, err := p.Pick()
		if err != nil || !again.Probe() || again.Endpoint() != "a:1" {
			t.Fatalf("after the probe timeout: %q probe=%v %v", again.Endpoint(), again.Probe(), err)
		}
		lost.Done(nil)
		if e := mustStatus(t, p, "a:1"); e.State != Probing {
			t.Fatalf("a superseded probe's report changed the endpoint: %+v", e)
		}
		again.Done(nil)
		if e := mustStatus(t, p, "a:1"); e.State != Up {
			t.Fatalf("the current probe's success did not reinstate: %+v", e)
		}
	})
}

func TestACancelledProbeHandsTheEndpointToTheNextPick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ejectedPool(t)
		time.Sleep(time.Second)
		synctest.Wait()
		l, _ := p.Pick()
		l.Done(context.Canceled)
		e := mustStatus(t, p, "a:1")
		if e.State != Ejected || e.Ejections != 1 {
			t.Fatalf("after a cancelled probe: %+v, want still ejected, same count", e)
		}
		next, _ := p.Pick()
		if !next.Probe() || next.Endpoint() != "a:1" {
			t.Fatalf("next Pick = %q probe=%v, want the probe at once", next.Endpoint(), next.Probe())
		}
		next.Done(nil)
	})
}

// The hot path reads no clock while ejected endpoints cool down: only the
// wake timer's firing lets a Pick look at the time.
func TestPickReadsNoClockUntilAnEjectedEndpointMayBeDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, probeConfig(), "a:1", "b:1", "c:1", "d:1")
		reads := countClock(t, p)
		pickCounts(t, p, 1000)
		if reads.Load() != 0 {
			t.Fatalf("healthy pool: %d clock reads in 1000 Picks", reads.Load())
		}
		failTimes(t, p, "a:1", 1) // the ejection reads the clock
		reads.Store(0)
		time.Sleep(time.Second - time.Microsecond)
		synctest.Wait()
		pickCounts(t, p, 1000)
		if reads.Load() != 0 {
			t.Fatalf("during the cooldown: %d clock reads in 1000 Picks", reads.Load())
		}
		time.Sleep(time.Microsecond)
		synctest.Wait()
		if l, _ := p.Pick(); !l.Probe() || reads.Load() == 0 {
			t.Fatalf("after the cooldown: probe %v with %d clock reads", l.Probe(), reads.Load())
		} else {
			l.Done(nil)
		}
	})
}

// Many endpoints ejected at different times each get their own probe at the
// end of their own cooldown, never earlier.
func TestEachEjectedEndpointIsProbedAtItsOwnDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		as := addrs(6)
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Second, NoJitter: true, MaxEjectedPercent: 100}, as...)
		for _, a := range as[:3] {
			failTimes(t, p, a, 1)
			time.Sleep(100 * time.Millisecond)
		}
		start := time.Now().Add(-300 * time.Millisecond)
		for i, a := range as[:3] {
			time.Sleep(time.Until(start.Add(time.Second + time.Duration(i)*100*time.Millisecond)))
			synctest.Wait()
			l, err := p.Pick()
			if err != nil || !l.Probe() || l.Endpoint() != a {
				t.Fatalf("at %s's deadline: %q probe=%v %v", a, l.Endpoint(), l.Probe(), err)
			}
			if next, _ := p.Pick(); next.Probe() {
				t.Fatalf("a second probe (%s) before its deadline", next.Endpoint())
			} else {
				next.Done(nil)
			}
			l.Done(nil)
		}
	})
}

// Two Picks that both see the same due endpoint race on its health word:
// here the second one is run inside the first one's window, and only one of
// them may come away with the probe.
func TestTheProbeCompareAndSwapAdmitsOneWinner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := ejectedPool(t)
		time.Sleep(time.Second)
		synctest.Wait()
		var inner Lease
		testHookBeforeProbeCAS = func(p *Pool) {
			testHookBeforeProbeCAS = nil
			p.due.Store(dueRaised)
			inner, _ = p.leaseProbe()
		}
		defer func() { testHookBeforeProbeCAS = nil }()
		outer, outerOK := p.leaseProbe()
		if !inner.Probe() {
			t.Fatal("setup: the competing Pick got no probe")
		}
		if outerOK || outer.Probe() {
			t.Fatal("two Picks leased the same probe window")
		}
		if e := mustStatus(t, p, "a:1"); e.InFlight != 1 {
			t.Fatalf("in-flight %d, want the single probe", e.InFlight)
		}
		inner.Done(nil)
	})
}

// A superseded probe's late outcome is an ordinary lease's: once a later
// probe reinstated the endpoint, its failure extends the streak (as its
// success would end it).
func TestASupersededProbesLateFailureIsOrdinary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 2, EjectFor: time.Second, ProbeTimeout: time.Second, NoJitter: true, MaxEjectedPercent: 50}, "a:1", "b:1")
		failTimes(t, p, "a:1", 2)
		time.Sleep(time.Second)
		synctest.Wait()
		lost, _ := p.Pick()
		time.Sleep(time.Second)
		synctest.Wait()
		current, _ := p.Pick()
		if !lost.Probe() || !current.Probe() {
			t.Fatal("setup: want two probes")
		}
		current.Done(nil)
		lost.Done(errBackend)
		if e := mustStatus(t, p, "a:1"); e.State != Up || e.Streak != 1 {
			t.Fatalf("after a superseded probe's failure: %+v, want up with a streak of 1", e)
		}
	})
}

// Below 100%, a pool that is not empty never goes dark: removing the
// endpoints that were up leaves only an ejected one, and every Pick, from
// goroutines on every P, still gets a lease (the first an early probe).
func TestPanicModeServesWhenRemovalLeavesOnlyEjectedEndpoints(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Hour}, "a:1", "b:1")
	failTimes(t, p, "a:1", 1)
	if e := mustStatus(t, p, "a:1"); e.State != Ejected {
		t.Fatalf("setup: a:1 = %+v, want ejected", e)
	}
	if err := p.Remove("b:1"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var failures, probes atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 200 {
				l, err := p.Pick()
				if err != nil {
					failures.Add(1)
					continue
				}
				if l.Probe() {
					probes.Add(1)
				}
				l.Done(context.Canceled) // neutral: a:1 stays out
			}
		})
	}
	wg.Wait()
	if failures.Load() != 0 || probes.Load() == 0 {
		t.Fatalf("%d of 1600 Picks failed on a pool of one ejected endpoint, %d probes", failures.Load(), probes.Load())
	}
	// A success through panic mode's probe reinstates the endpoint.
	l, err := p.Pick()
	if err != nil || !l.Probe() {
		t.Fatalf("Pick = %v, probe %v; want an early probe", err, l.Probe())
	}
	l.Done(nil)
	if e := mustStatus(t, p, "a:1"); e.State != Up {
		t.Fatalf("after the early probe's success: %+v", e)
	}
}

// At 100% with several endpoints due at once, a Pick that arrives while
// another Pick holds the probe scan still gets one of the due probes; it
// used to go to normal selection and fail with ErrNoEndpoint.
func TestConcurrentPicksDuringAProbeScanGetTheDueProbes(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(runtime.GOMAXPROCS(0), 2)))
	synctest.Test(t, func(t *testing.T) {
		as := addrs(6)
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Second, NoJitter: true, MaxEjectedPercent: 100}, as...)
		for _, a := range as {
			failTimes(t, p, a, 1)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		others := len(as) - 1
		results := make(chan error, others)
		testHookBeforeProbeCAS = func(*Pool) {
			testHookBeforeProbeCAS = nil
			// The scanning Pick waits here, in its window, while the
			// others pick on goroutines of their own.
			var wg sync.WaitGroup
			for range others {
				wg.Go(func() {
					l, err := p.Pick()
					if err == nil && !l.Probe() {
						err = errors.New("a lease that is not a probe")
					}
					results <- err
				})
			}
			wg.Wait()
		}
		defer func() { testHookBeforeProbeCAS = nil }()
		first, err := p.Pick()
		if err != nil || !first.Probe() {
			t.Fatalf("the scanning Pick: %v, probe %v", err, first.Probe())
		}
		close(results)
		for err := range results {
			if err != nil {
				t.Fatalf("a Pick during the scan: %v", err)
			}
		}
		probing := 0
		for _, e := range p.Endpoints() {
			if e.State == Probing {
				probing++
			}
		}
		if probing != len(as) {
			t.Fatalf("%d of %d endpoints probing after %d Picks", probing, len(as), len(as))
		}
	})
}
