package lb

import (
	"math"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"
)

// PeakEWMA's tests run in a synctest bubble, where its latency clock is the
// bubble's: it moves only when the test sleeps.

// timedLease picks addr and reports it after latency rtt.
func timedLease(t *testing.T, p *Pool, addr string, rtt time.Duration) {
	t.Helper()
	l := leaseOn(t, p, addr)
	time.Sleep(rtt)
	l.Done(nil)
}

// peakSlot returns the PeakEWMA slot of p's first endpoint.
func peakSlot(p *Pool) *peakEWMASlot {
	return p.tables.peakEWMA.Load().slotOf(p.view.Load().cores[0])
}

func TestPeakEWMAFollowsPeaksAndDecays(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA, EWMADecay: 10 * time.Second}, "a:1", "b:1")
		s := peakSlot(p)
		tau := p.cfg.ewmaDecay

		timedLease(t, p, "a:1", 10*time.Millisecond)
		if got := s.average(nanos(), tau); got != float64(10*time.Millisecond) {
			t.Fatalf("first sample: average %v, want the sample", got)
		}
		timedLease(t, p, "a:1", 50*time.Millisecond)
		if got := s.average(nanos(), tau); got != float64(50*time.Millisecond) {
			t.Fatalf("a peak replaces the average at once: %v", got)
		}
		// A lower sample 10 s (one time constant) later: weight 1-1/e.
		time.Sleep(10*time.Second - time.Millisecond)
		timedLease(t, p, "a:1", time.Millisecond)
		want := 50e6/math.E + 1e6*(1-1/math.E)
		if got := s.average(nanos(), tau); math.Abs(got-want) > want*1e-6 {
			t.Fatalf("after one time constant: average %.0f, want %.0f", got, want)
		}
		// Read with no new sample, the average keeps decaying towards 0.
		if later := s.average(nanos()+int64(10*time.Second), tau); math.Abs(later-want/math.E) > want*1e-6 {
			t.Fatalf("decay on read: %.0f, want %.0f", later, want/math.E)
		}
	})
}

// The slow endpoint receives far less traffic: P2C on cost sends every pick
// whose candidates are {slow, fast} to the fast one.
func TestPeakEWMAPrefersTheFasterEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		as := addrs(4)
		p := mustNew(t, Config{Policy: PeakEWMA}, as...)
		for i, a := range as {
			rtt := time.Millisecond
			if i == 0 {
				rtt = 100 * time.Millisecond
			}
			timedLease(t, p, a, rtt)
		}
		seen := pickCounts(t, p, 6000)
		// With 4 endpoints, the slow one is in half the pairs... and loses each:
		// zero picks while every lease is released before the next pick.
		if seen[as[0]] != 0 {
			t.Fatalf("slow endpoint picked %d of 6000 times: %v", seen[as[0]], seen)
		}
	})
}

// An endpoint with no latency sample yet and leases in flight costs a
// penalty, so a new endpoint is tried but not stampeded.
func TestPeakEWMAPenalisesUnmeasuredBusyEndpoints(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA}, "new:1", "known:1")
		timedLease(t, p, "known:1", 5*time.Millisecond)
		s := peakSlot(p)
		if s.load(nanos(), p.cfg.ewmaDecay) != 0 {
			t.Fatal("an idle unmeasured endpoint should cost nothing")
		}
		held := leaseOn(t, p, "new:1")
		defer held.Done(nil)
		if s.load(nanos(), p.cfg.ewmaDecay) < penaltyCost {
			t.Fatal("a busy unmeasured endpoint should cost the penalty")
		}
		if seen := pickCounts(t, p, 100); seen["new:1"] != 0 {
			t.Fatalf("busy unmeasured endpoint picked: %v", seen)
		}
	})
}

func TestPeakEWMACancelledLeasesTeachNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA}, "a:1")
		l, _ := p.Pick()
		time.Sleep(time.Second)
		l.Done(errCanceled)
		if s := peakSlot(p); s.cost.Load() != 0 {
			t.Fatal("a cancelled lease recorded a latency")
		}
	})
}

// A fast failure must not make an endpoint look fast: it teaches at least
// failureLatency.
func TestPeakEWMAFailuresTeachAtLeastTheFailureLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA, EjectAfter: 100}, "a:1", "b:1")
		l := leaseOn(t, p, "a:1")
		time.Sleep(time.Millisecond)
		l.Done(errBackend)
		if got := peakSlot(p).average(nanos(), p.cfg.ewmaDecay); got != float64(failureLatency) {
			t.Fatalf("after a 1 ms failure: average %v ns, want %v", got, failureLatency)
		}
	})
}

// expNeg stays within expNegError of math.Exp over the whole range it
// computes, and is 0 beyond it.
func TestExpNegIsWithinItsBound(t *testing.T) {
	worst := 0.0
	for x := 0.0; x < 708; x += 0.000731 {
		want := math.Exp(-x)
		worst = max(worst, math.Abs(expNeg(x)-want)/want)
	}
	if worst > expNegError {
		t.Fatalf("relative error %.3g, bound %.3g", worst, expNegError)
	}
	if worst < expNegError/10 {
		t.Fatalf("relative error %.3g: the bound %.3g is far from what the table does", worst, expNegError)
	}
	for _, x := range []float64{708.5, 1000, math.Inf(1)} {
		if got := expNeg(x); got != 0 {
			t.Errorf("expNeg(%v) = %v, want 0", x, got)
		}
	}
}

// Pick compares two endpoints without reading the clock (cheaper); its
// order is load's order at any later time, for random averages, stamps
// and leases, except where the two costs are within the exp
// table's error of each other.
func TestPeakEWMACheaperOrdersAsLoadDoes(t *testing.T) {
	p := mustNew(t, Config{Policy: PeakEWMA}, "a:1", "b:1")
	tab := p.tables.peakEWMA.Load()
	x, y := tab.slots[0], tab.slots[1]
	r := rand.New(rand.NewPCG(1, 2))
	set := func(s *peakEWMASlot) {
		s.cost.Store(math.Float64bits([]float64{0, r.Float64() * 1e9, r.Float64() * 1e6}[r.IntN(3)]))
		s.stamp.Store(r.Int64N(int64(time.Minute)))
		s.inflight.Store(r.Int64N(4))
		// No streaks: their doubling skips a random trial share, which two
		// evaluations would draw differently.
		s.health.Store(0)
	}
	checked := 0
	for range 100000 {
		set(x)
		set(y)
		now := max(x.stamp.Load(), y.stamp.Load()) + r.Int64N(int64(time.Minute))
		lx, ly := x.load(now, tab.tau), y.load(now, tab.tau)
		if math.Abs(lx-ly) <= 4*expNegError*max(lx, ly) {
			continue
		}
		checked++
		if got := tab.cheaper(x, y); got != (lx < ly) {
			t.Fatalf("cheaper = %v, load at now: %v vs %v", got, lx, ly)
		}
	}
	if checked < 50000 {
		t.Fatalf("only %d of 100000 draws were not near-ties", checked)
	}
}
