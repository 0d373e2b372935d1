package lb

import (
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// PeakEWMA's tests run in a synctest bubble, where its latency clock is the
// bubble's: it moves only when the test sleeps.

// timedLease picks addr and reports it after latency rtt, as a sampled
// lease: it stamps the start as begin does for the leases it times, so the
// tests of the average do not depend on the sampling draw (tested apart).
func timedLease(t *testing.T, p *Pool, addr string, rtt time.Duration) {
	t.Helper()
	l := leaseOn(t, p, addr)
	l.mark = startMark()
	time.Sleep(rtt)
	l.Done(nil)
}

// measure gives every endpoint of p a latency average of rtt, stamped now.
func measure(p *Pool, rtt time.Duration) {
	now := nanos()
	for _, s := range p.tables.peakEWMA.Load().slots {
		s.cost.Store(math.Float64bits(float64(rtt)))
		s.stamp.Store(now)
	}
}

// unsampledLease picks until it gets a lease on addr that begin did not
// time (one in sampleEvery is timed, so this takes a few picks).
func unsampledLease(t *testing.T, p *Pool, addr string) Lease {
	t.Helper()
	for range 1000 {
		l := leaseOn(t, p, addr)
		if l.mark == unsampled {
			return l
		}
		l.Done(errCanceled)
	}
	t.Fatalf("1000 leases on %s were all sampled", addr)
	return Lease{}
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
		if l.mark == unsampled {
			t.Fatal("a lease on an unmeasured endpoint was not sampled")
		}
		time.Sleep(time.Second)
		l.Done(errCanceled)
		if s := peakSlot(p); s.cost.Load() != 0 {
			t.Fatal("a cancelled lease recorded a latency")
		}
		// Nor does an unsampled one, on a measured endpoint.
		measure(p, time.Millisecond)
		s := peakSlot(p)
		cost, stamp := s.cost.Load(), s.stamp.Load()
		l = unsampledLease(t, p, "a:1")
		time.Sleep(time.Second)
		l.Done(errCanceled)
		if s.cost.Load() != cost || s.stamp.Load() != stamp {
			t.Fatal("an unsampled cancelled lease changed the average")
		}
	})
}

// A fast failure must not make an endpoint look fast: while its streak
// lasts, outside its trials, it is weighed at a latency of at least
// failureLatency, doubled per failure. The floor is not written into the
// average, so the endpoint's first success ends it.
func TestPeakEWMAFailureWeighsAtLeastTheFailureLatencyUntilASuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA, EjectAfter: 100}, "a:1", "b:1")
		measure(p, time.Millisecond)
		s := peakSlot(p)
		tau := p.cfg.ewmaDecay

		l := leaseOn(t, p, "a:1")
		l.mark = startMark() // timed: its latency is learned as a success's
		time.Sleep(time.Millisecond)
		l.Done(errBackend)
		if got := s.average(nanos(), tau); math.Abs(got-1e6) > 1e3 {
			t.Fatalf("after a 1 ms failure: average %v ns, want the 1 ms it took", got)
		}
		floored := 0
		for range 1000 {
			if s.load(nanos(), tau) >= 2*failureLatency {
				floored++
			}
		}
		// Trials, one in failureTrialEvery, weigh it at its average: about
		// 16 of 1000.
		if floored < 950 || floored == 1000 {
			t.Fatalf("%d of 1000 loads floored at 2 × failureLatency, want all but about 1 in %d", floored, failureTrialEvery)
		}

		l = leaseOn(t, p, "a:1")
		l.Done(nil)
		if got := s.load(nanos(), tau); got > 1.001e6 {
			t.Fatalf("after a success: load %v ns, want the 1 ms average back", got)
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
	// Its series, below expSeries, finely: within 1e-8, as its doc says.
	for x := 0.0; x < expSeries; x += expSeries / 4096 {
		if got, want := expNeg(x), math.Exp(-x); math.Abs(got-want) > 1e-8*want {
			t.Fatalf("expNeg(%v) = %v, want %v", x, got, want)
		}
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
		// Stamps up to a minute apart, or within 10 ms (where expNeg
		// uses its series rather than its table).
		s.stamp.Store(r.Int64N([]int64{int64(time.Minute), int64(10 * time.Millisecond)}[r.IntN(2)]))
		s.leases.Store(r.Int64N(4))
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

// One lease in sampleEvery is timed once every endpoint has an average: in
// 10,000 leases the timed count stays within 6 standard deviations of
// 10,000/sampleEvery (1250 ± 200 for 8), so sampling always, never, or at
// twice or half the documented rate fails.
func TestPeakEWMATimesOneLeaseInSampleEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA}, addrs(8)...)
		measure(p, time.Millisecond)
		if p.mode != leaseTracked {
			t.Fatalf("a PeakEWMA pool's lease mode is %d: Done would skip end", p.mode)
		}
		const leases = 10000
		sampled := 0
		for range leases {
			l, err := p.Pick()
			if err != nil {
				t.Fatal(err)
			}
			if l.mark != unsampled {
				sampled++
			}
			l.Done(nil)
		}
		q := 1.0 / sampleEvery
		want, sd := leases*q, math.Sqrt(leases*q*(1-q))
		if math.Abs(float64(sampled)-want) > 6*sd {
			t.Fatalf("%d of %d leases timed, want %.0f ± %.0f", sampled, leases, want, 6*sd)
		}
	})
}

// An endpoint with no average yet has every lease timed, so its first
// latency is learned from its first lease and the penalty rule for new
// endpoints holds as when every lease was timed; its neighbour, measured,
// keeps the sampled share.
func TestPeakEWMAAlwaysTimesAnUnmeasuredEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA}, "new:1", "known:1")
		tab := p.tables.peakEWMA.Load()
		known := tab.slots[1]
		known.cost.Store(math.Float64bits(float64(time.Millisecond)))
		known.stamp.Store(nanos())
		timed := map[string]int{}
		seen := map[string]int{}
		for range 4000 {
			l, err := p.Pick()
			if err != nil {
				t.Fatal(err)
			}
			seen[l.Endpoint()]++
			if l.mark != unsampled {
				timed[l.Endpoint()]++
			}
			l.Done(nil) // no time passes: a 0 ns latency leaves new:1 unmeasured
		}
		if peakSlot(p).cost.Load() != 0 {
			t.Fatal("a 0 ns latency measured new:1")
		}
		if seen["new:1"] < 1000 || timed["new:1"] != seen["new:1"] {
			t.Fatalf("unmeasured endpoint: %d of %d leases timed", timed["new:1"], seen["new:1"])
		}
		if timed["known:1"] > seen["known:1"]/2 {
			t.Fatalf("measured endpoint: %d of %d leases timed", timed["known:1"], seen["known:1"])
		}
		// The first lease with a latency measures it.
		l := leaseOn(t, p, "new:1")
		time.Sleep(3 * time.Millisecond)
		l.Done(nil)
		if got := peakSlot(p).average(nanos(), tab.tau); got != float64(3*time.Millisecond) {
			t.Fatalf("first latency of new:1: average %v, want 3ms", got)
		}
	})
}

// An untimed failure reads no clock and leaves the average and its stamp
// as they were (its latency is unknown): its penalty is its streak, which
// makes the endpoint the costlier one but on its trials. An untimed
// success changes nothing either.
func TestPeakEWMAUntimedFailureCostsWithoutTouchingTheAverage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA, EjectAfter: 100}, "a:1", "b:1")
		measure(p, time.Millisecond)
		s := peakSlot(p)
		cost, stamp := s.cost.Load(), s.stamp.Load()

		l := unsampledLease(t, p, "a:1")
		time.Sleep(5 * time.Millisecond)
		l.Done(nil)
		if s.cost.Load() != cost || s.stamp.Load() != stamp {
			t.Fatal("an untimed success changed the average")
		}

		l = unsampledLease(t, p, "a:1")
		time.Sleep(2 * time.Millisecond)
		l.Done(errBackend)
		if s.cost.Load() != cost || s.stamp.Load() != stamp {
			t.Fatal("an untimed failure changed the average")
		}
		tab := p.tables.peakEWMA.Load()
		costlier := 0
		for range 1000 {
			if tab.cheaper(tab.slots[1], s) {
				costlier++
			}
		}
		if costlier < 950 || costlier == 1000 {
			t.Fatalf("the endpoint that failed is the costlier in %d of 1000 comparisons, want all but its trials, about 1 in %d", costlier, failureTrialEvery)
		}
	})
}

// An endpoint with a streak of s is weighed without its penalty in one
// comparison in failureTrialEvery·2^(s-1), down to the cap: within 6
// standard deviations over draws that expect 400 trials, so a share that
// does not halve, halves too far or ignores the cap fails. Outside trials
// it is doubled per failure and floored at failureLatency.
func TestPeakEWMATrialShareHalvesPerFailure(t *testing.T) {
	for _, streak := range []uint64{1, 2, 3, failureTrialMaxShift + 1, failureTrialMaxShift + 5, streakMax} {
		every := float64(uint64(failureTrialEvery) << min(streak-1, failureTrialMaxShift))
		draws := int(400 * every)
		h := healthWord(stateUp, streak, 0, 0)
		trials := 0
		for range draws {
			mult, floor := failurePenalty(h)
			switch {
			case mult == 1 && floor == 0:
				trials++
			case mult != float64(uint64(1)<<min(streak, maxStreakShift)) || floor != failureLatency:
				t.Fatalf("streak %d: multiplier %v, floor %v", streak, mult, floor)
			}
		}
		if sd := math.Sqrt(400 * (1 - 1/every)); math.Abs(float64(trials)-400) > 6*sd {
			t.Errorf("streak %d: %d trials in %d draws, want 400 ± %.0f (one in %.0f)", streak, trials, draws, 6*sd, every)
		}
	}
}

// Pick+Done allocate nothing on timed and untimed leases, for every outcome.
func TestPeakEWMAPickDoneAllocatesNothing(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage counters distort allocation counts")
	}
	p := mustNew(t, Config{Policy: PeakEWMA, EjectAfter: 255}, addrs(8)...)
	measure(p, time.Millisecond)
	timed := 0
	for name, outcome := range map[string]error{"success": nil, "failure": errBackend, "cancel": errCanceled} {
		allocs := testing.AllocsPerRun(2000, func() {
			l, err := p.Pick()
			if err != nil {
				panic(err)
			}
			if l.mark != unsampled {
				timed++
			}
			l.Done(outcome)
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per Pick+Done", name, allocs)
		}
	}
	if timed == 0 {
		t.Fatal("no lease was timed: the timed path was not measured")
	}
}

// Through Pick and Done only, with latencies on the bubble's clock: two
// endpoints measured alike, then one turns slow (50 ms against 1 ms). Its
// untimed leases teach nothing, but a timed one soon does (one in
// sampleEvery, and a peak replaces the average), after which it loses
// every pair for tens of seconds: in 600 leases it keeps a small share.
// Without sampling it would keep winning (its older stamp decays its equal
// average lower) and take nearly all of them.
func TestPeakEWMALearnsASlowEndpointFromSamples(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: PeakEWMA}, "slow:1", "fast:1")
		measure(p, time.Millisecond)
		seen := map[string]int{}
		for range 600 {
			l, err := p.Pick()
			if err != nil {
				t.Fatal(err)
			}
			seen[l.Endpoint()]++
			if l.Endpoint() == "slow:1" {
				time.Sleep(50 * time.Millisecond)
			} else {
				time.Sleep(time.Millisecond)
			}
			l.Done(nil)
		}
		// The slow endpoint's leases before its first timed one number
		// about sampleEvery: more than 120 has a chance of (7/8)^120, 1e-7.
		if seen["slow:1"] == 0 || seen["slow:1"]*4 > seen["fast:1"] {
			t.Fatalf("slow endpoint's share not learned from samples: %v", seen)
		}
	})
}

// A measured endpoint stays measured however old its average: decay keeps
// it positive, so it never falls back to the penalty of a new endpoint, in
// load as in cheaper.
func TestPeakEWMAOldAverageIsNotUnmeasured(t *testing.T) {
	p := mustNew(t, Config{Policy: PeakEWMA}, "old:1", "busy:1")
	tab := p.tables.peakEWMA.Load()
	old, busy := tab.slots[0], tab.slots[1]
	old.cost.Store(math.Float64bits(1e6))
	old.stamp.Store(0)
	old.leases.Store(3)
	busy.cost.Store(math.Float64bits(1e9))
	busy.stamp.Store(int64(1000 * tab.tau)) // a thousand time constants later
	if l := old.load(busy.stamp.Load(), tab.tau); l <= 0 || l >= penaltyCost {
		t.Fatalf("old average's load %v: want positive and below the penalty", l)
	}
	if !tab.cheaper(old, busy) || tab.cheaper(busy, old) {
		t.Fatal("an old, decayed average lost to a measured one")
	}
}

// simBackend is a simulated endpoint for PeakEWMA's runs (simRun): it
// answers after its latency, give or take 5% drawn per request, and fails
// a request when fails says so (nil: never), given when the request
// started, since the run's start, and the caller's random source; a
// failure answers after the latency too, or at once when failFast.
type simBackend struct {
	latency  time.Duration
	fails    func(at time.Duration, r *rand.Rand) bool
	failFast bool
}

// simTick is the width of simRun's tally buckets.
const simTick = 10 * time.Millisecond

// simTally is a run's picks: picks[b][i] leases of endpoint i whose Pick
// came in bucket b (simTick wide, from the run's start), and the failures
// callers saw.
type simTally struct {
	picks  [][]int
	errors int
}

// share returns endpoint i's share of the picks in [from, to).
func (s *simTally) share(i int, from, to time.Duration) float64 {
	mine, all := 0, 0
	for b := int(from / simTick); b < int(to/simTick) && b < len(s.picks); b++ {
		mine += s.picks[b][i]
		for _, k := range s.picks[b] {
			all += k
		}
	}
	if all == 0 {
		return 0
	}
	return float64(mine) / float64(all)
}

// spread returns the lowest and highest share of any endpoint in [from, to).
func (s *simTally) spread(from, to time.Duration) (lo, hi float64) {
	lo, hi = 1, 0
	for i := range s.picks[0] {
		sh := s.share(i, from, to)
		lo, hi = min(lo, sh), max(hi, sh)
	}
	return lo, hi
}

// errorRate returns the share of all picks whose request failed.
func (s *simTally) errorRate() float64 {
	all := 0
	for _, b := range s.picks {
		for _, k := range b {
			all += k
		}
	}
	return float64(s.errors) / float64(all)
}

// simRun drives p, whose endpoints are addrs(len(backends)) in order, with
// callers closed-loop callers for d on the synctest bubble's clock: each
// picks, sleeps its backend's answer time, and reports the outcome.
func simRun(t *testing.T, p *Pool, backends []simBackend, callers int, d time.Duration) *simTally {
	t.Helper()
	index := map[string]int{}
	for i, a := range addrs(len(backends)) {
		index[a] = i
	}
	tallies := make([]simTally, callers)
	start := time.Now()
	var wg sync.WaitGroup
	for k := range callers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(k), 29))
			mine := &tallies[k]
			mine.picks = make([][]int, d/simTick)
			for b := range mine.picks {
				mine.picks[b] = make([]int, len(backends))
			}
			for at := time.Duration(0); at < d; at = time.Since(start) {
				l, err := p.Pick()
				if err != nil {
					t.Errorf("Pick: %v", err)
					return
				}
				i := index[l.Endpoint()]
				mine.picks[at/simTick][i]++
				be := &backends[i]
				failed := be.fails != nil && be.fails(at, r)
				if !failed || !be.failFast {
					time.Sleep(be.latency * time.Duration(950+r.IntN(101)) / 1000)
				}
				if failed {
					mine.errors++
					l.Done(errBackend)
				} else {
					l.Done(nil)
				}
			}
		})
	}
	wg.Wait()
	all := &tallies[0]
	for _, o := range tallies[1:] {
		all.errors += o.errors
		for b := range o.picks {
			for i, n := range o.picks[b] {
				all.picks[b][i] += n
			}
		}
	}
	return all
}

// healthy returns n simulated backends answering in latency, never failing.
func healthy(n int, latency time.Duration) []simBackend {
	bs := make([]simBackend, n)
	for i := range bs {
		bs[i].latency = latency
	}
	return bs
}

// failsAtRandom is a simBackend's fails for a failure rate of rate.
func failsAtRandom(rate float64) func(time.Duration, *rand.Rand) bool {
	return func(_ time.Duration, r *rand.Rand) bool { return r.Float64() < rate }
}

// A sinkhole, an endpoint that fails every request at once from 5 s into
// the run, keeps at most 0.1% of picks over the next minute among five
// endpoints that answer in 5 ms. EjectAfter 255 keeps it in the pool (it
// would take 255 failures in a row, which its share never gives it), and
// outlier detection is off, so the share is PeakEWMA's own avoidance.
func TestPeakEWMAAvoidsASinkhole(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, turn, d = 5, 5 * time.Second, time.Minute
		bs := healthy(n, 5*time.Millisecond)
		bs[0].fails = func(at time.Duration, _ *rand.Rand) bool { return at >= turn }
		bs[0].failFast = true
		p := mustNew(t, Config{Policy: PeakEWMA, EjectAfter: 255, Outlier: Outlier{Off: true}}, addrs(n)...)
		tally := simRun(t, p, bs, 10, turn+d)
		share := tally.share(0, turn, turn+d)
		t.Logf("sinkhole's share over %v: %.3f%% (%d caller errors)", d, 100*share, tally.errors)
		if e := mustStatus(t, p, addrs(n)[0]); e.State != Up || e.Ejections != 0 {
			t.Fatalf("the sinkhole was ejected: %+v", e)
		}
		if share > 0.001 {
			t.Fatalf("sinkhole's share %.3f%%, want at most 0.1%%", 100*share)
		}
	})
}

// A gray failure, one of ten endpoints failing 20% of its requests at
// random with its peers' latency, keeps a small share: at most 5% (half its
// fair share), and at most half of what P2C gives it in the same setup.
// EjectAfter 255 and no outlier detection, so that both policies'
// avoidance is measured alone.
func TestPeakEWMAAvoidsAGrayFailure(t *testing.T) {
	const n, d = 10, time.Minute
	run := func(policy Policy) (share, errors float64) {
		synctest.Test(t, func(t *testing.T) {
			bs := healthy(n, 5*time.Millisecond)
			bs[0].fails = failsAtRandom(0.2)
			p := mustNew(t, Config{Policy: policy, EjectAfter: 255, Outlier: Outlier{Off: true}}, addrs(n)...)
			tally := simRun(t, p, bs, 20, d)
			share, errors = tally.share(0, 0, d), tally.errorRate()
		})
		return share, errors
	}
	peak, peakErrors := run(PeakEWMA)
	p2c, p2cErrors := run(P2C)
	t.Logf("gray endpoint's share: peak_ewma %.2f%% (caller errors %.3f%%), p2c %.2f%% (%.3f%%), fair %.0f%%",
		100*peak, 100*peakErrors, 100*p2c, 100*p2cErrors, 100.0/n)
	if peak > 0.5/n || peak > p2c/2 {
		t.Fatalf("gray endpoint's share %.2f%% under PeakEWMA, want at most %.0f%% and half of P2C's %.2f%%", 100*peak, 50.0/n, 100*p2c)
	}
}

// One failure, answered at once while it is the endpoint's only request
// in flight (so no success already under way ends its streak for it),
// then answers as good as its peers': the endpoint is back to at least 80%
// of its fair share over the second from 1 s to 2 s after the failure.
func TestPeakEWMAOneFailureWearsOffWithinTwoSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, turn = 5, 5 * time.Second
		a := addrs(n)[0]
		p := mustNew(t, Config{Policy: PeakEWMA}, addrs(n)...)
		bs := healthy(n, 5*time.Millisecond)
		var failedAt atomic.Int64 // since the run's start; 0 until then
		bs[0].fails = func(at time.Duration, _ *rand.Rand) bool {
			if e, _ := status(p, a); at < turn || e.InFlight != 1 {
				return false
			}
			return failedAt.CompareAndSwap(0, int64(at))
		}
		bs[0].failFast = true
		tally := simRun(t, p, bs, 10, turn+5*time.Second)
		t0 := time.Duration(failedAt.Load())
		if t0 == 0 || t0 > turn+2*time.Second {
			t.Fatalf("the endpoint failed at %v, want between %v and %v", t0, turn, turn+2*time.Second)
		}
		from := (t0 + time.Second + simTick - 1).Truncate(simTick) // whole buckets, from 1 s after
		before := tally.share(0, turn-time.Second, turn)
		after := tally.share(0, from, from+time.Second-simTick)
		t.Logf("share of the endpoint that failed once at %v: %.1f%% over the second before, %.1f%% from 1 to 2 s after (fair %.0f%%)",
			t0, 100*before, 100*after, 100.0/n)
		if after < 0.8/n {
			t.Fatalf("share 1 to 2 s after one failure %.2f%%, want at least 80%% of fair (%.0f%%)", 100*after, 100.0/n)
		}
		if e := mustStatus(t, p, a); e.Streak != 0 || e.Ejections != 0 {
			t.Fatalf("the endpoint that failed once is %+v, want no streak, never ejected", e)
		}
	})
}

// With every endpoint failing 0.2% of its requests at random, each keeps
// its fair share within 20% over two minutes: a failure costs its
// endpoint a few dozen picks, not most of a minute. Four callers on ten
// endpoints that answer in 20 ms make about one failure every 2.5 s, rare
// enough that a penalty lasting tens of seconds would leave some endpoints
// far below their share and others far above.
func TestPeakEWMAKeepsSharesUnderBackgroundErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, d = 10, 2 * time.Minute
		bs := healthy(n, 20*time.Millisecond)
		for i := range bs {
			bs[i].fails = failsAtRandom(0.002)
		}
		p := mustNew(t, Config{Policy: PeakEWMA}, addrs(n)...)
		tally := simRun(t, p, bs, 4, d)
		lo, hi := tally.spread(0, d)
		t.Logf("shares with 0.2%% background errors (%d failures): %.2f%% to %.2f%% (fair %.0f%%)", tally.errors, 100*lo, 100*hi, 100.0/n)
		if lo < 0.8/n || hi > 1.2/n {
			t.Fatalf("shares %.2f%% to %.2f%%, want within 20%% of fair (%.0f%%)", 100*lo, 100*hi, 100.0/n)
		}
	})
}
