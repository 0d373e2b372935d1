package lb

import (
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// roundsOn ends rounds Picks of a RoundRobin pool, one per endpoint per
// round, failing the k-th lease of endpoint addr when fails(k) says so.
func roundsOn(t *testing.T, p *Pool, rounds int, fails map[string]func(k int) bool) {
	t.Helper()
	seen := map[string]int{}
	for range rounds * p.Len() {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Endpoint()
		k := seen[addr]
		seen[addr]++
		if f := fails[addr]; f != nil && f(k) {
			l.Done(errBackend)
		} else {
			l.Done(nil)
		}
	}
}

// every fails one request in n.
func every(n int) func(int) bool { return func(k int) bool { return k%n == n-1 } }

// successThreshold is A50's success-rate threshold over rates, computed
// here from the definition.
func successThreshold(rates []float64, factor float64) float64 {
	var mean float64
	for _, r := range rates {
		mean += r
	}
	mean /= float64(len(rates))
	var v float64
	for _, r := range rates {
		v += (r - mean) * (r - mean)
	}
	return mean - factor*math.Sqrt(v/float64(len(rates)))
}

// One of ten endpoints fails a fifth of its requests, never five in a row:
// consecutive failures never eject it; the first failure a second later
// evaluates the interval and ejects it by success rate, with the event's
// rate and threshold A50's; its peers stay.
func TestSuccessRateEjectsAnEndpointFailingAFifthOfItsRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: RoundRobin, NoJitter: true}, addrs(10)...)
		s, err := p.Subscribe(SubscribeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		gray := addrs(10)[9]
		roundsOn(t, p, 200, map[string]func(int) bool{gray: every(5)}) // 40 failures in 200
		if e := mustStatus(t, p, gray); e.State != Up {
			t.Fatalf("before the interval passed: %+v", e)
		}
		time.Sleep(time.Second)
		l := leaseOn(t, p, gray)
		l.Done(errBackend) // 201 requests, 41 failures: the evaluation's trigger
		e := mustStatus(t, p, gray)
		if e.State != Ejected || e.Reason != SuccessRate || e.Requests != 201 || e.Until != time.Now().Add(DefaultOutlierEjectFor) {
			t.Fatalf("after the interval: %+v, want ejected by success rate for Outlier.EjectFor, 201 requests", e)
		}
		rates := []float64{1 - 41.0/201}
		for range 9 {
			rates = append(rates, 1)
		}
		want := successThreshold(rates, DefaultStdevFactor)
		events, _, _ := collectEvents(t, s, 1, time.Second)
		ev := events[0]
		if ev.Kind != EventEjected || ev.Addr != gray || ev.Reason != SuccessRate || ev.Refused ||
			math.Abs(ev.SuccessRate-rates[0]) > 1e-6 || math.Abs(ev.Threshold-want) > 1e-6 {
			t.Fatalf("event %+v, want ejected by success rate %.4f below %.4f", ev, rates[0], want)
		}
		for _, e := range p.Endpoints() {
			if e.Addr != gray && (e.State != Up || e.SuccessRate != 1 || e.Requests != 200) {
				t.Errorf("peer %+v, want up with 200 requests all successful", e)
			}
		}
	})
}

// Each outlier ejection in a row adds Outlier.EjectFor to the cooldown
// (A50): a probe's success brings the endpoint back, but an interval judged
// with it still failing ejects it for longer; intervals judged clean wear
// the count off.
func TestOutlierCooldownGrowsUntilCleanIntervalsWearItOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: RoundRobin, NoJitter: true}, addrs(10)...)
		gray := addrs(10)[9]
		fails := map[string]func(int) bool{gray: every(5)}
		ejectNow := func() EndpointStatus {
			t.Helper()
			time.Sleep(time.Second)
			l := leaseOn(t, p, gray)
			l.Done(errBackend)
			return mustStatus(t, p, gray)
		}
		roundsOn(t, p, 200, fails)
		for k, cooldown := range []time.Duration{30 * time.Second, 60 * time.Second, 90 * time.Second} {
			e := ejectNow()
			if e.State != Ejected || e.Ejections != k+1 || e.Until != time.Now().Add(cooldown) {
				t.Fatalf("ejection %d: %+v, want ejected for %v", k+1, e, cooldown)
			}
			time.Sleep(cooldown)
			probe := leaseOn(t, p, gray)
			if !probe.Probe() {
				t.Fatalf("ejection %d: no probe after the cooldown", k+1)
			}
			probe.Done(nil) // a lucky success: back in service
			time.Sleep(time.Second)
			roundsOn(t, p, 1, nil) // the evaluation after the cooldown: too few requests to judge
			l := leaseOn(t, p, addrs(10)[0])
			l.Done(errBackend)
			roundsOn(t, p, 200, fails)
		}
		// Healthy from now on: each interval judged clean takes one off the
		// count. Each roundsOn's first request fails elsewhere, which runs
		// the evaluation of the interval before.
		e := ejectNow()
		if e.State != Ejected || e.Until != time.Now().Add(120*time.Second) {
			t.Fatalf("fourth ejection: %+v, want 120 s", e)
		}
		time.Sleep(120 * time.Second)
		probe := leaseOn(t, p, gray)
		probe.Done(nil)
		clean := map[string]func(int) bool{addrs(10)[0]: func(k int) bool { return k == 0 }}
		for range 3 { // the first evaluation sees only the probe: not judged
			time.Sleep(time.Second)
			roundsOn(t, p, 200, clean)
		}
		time.Sleep(time.Second)
		roundsOn(t, p, 200, fails) // judged clean once more (one failure is not an outlier): 4 − 3 = 1
		e = ejectNow()
		if e.State != Ejected || e.Until != time.Now().Add(60*time.Second) {
			t.Fatalf("after three clean intervals: %+v, want the second ejection's 60 s", e)
		}
	})
}

// A fifth of the endpoints failing 90% of their requests hides from the
// success-rate rule (the deviation is large); the failure-percentage rule
// ejects them. With EjectAfter out of reach, only it can.
func TestFailurePercentageEjectsWhatTheDeviationHides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: RoundRobin, EjectAfter: 255, NoJitter: true}, addrs(5)...)
		bad := map[string]func(int) bool{
			addrs(5)[0]: func(k int) bool { return k%10 != 0 },
			addrs(5)[1]: func(k int) bool { return k%10 != 0 },
		}
		roundsOn(t, p, 100, bad)
		time.Sleep(time.Second)
		l := leaseOn(t, p, addrs(5)[2])
		l.Done(errBackend)
		for i, e := range p.Endpoints() {
			want := Up
			if i < 2 {
				want = Ejected
			}
			if e.State != want || (want == Ejected && e.Reason != FailurePercentage) {
				t.Errorf("%+v, want %v (by failure percentage)", e, want)
			}
		}
	})
}

// Against peers that never fail, one failure is below mean − 1.9 sd; an
// outlier needs five failures in its interval too.
func TestOneFailureAmongPerfectPeersIsNoOutlier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: RoundRobin}, addrs(10)...)
		for _, n := range []int{1, 4} {
			roundsOn(t, p, 200, map[string]func(int) bool{addrs(10)[3]: func(k int) bool { return k < n }})
			time.Sleep(time.Second)
			l := leaseOn(t, p, addrs(10)[7])
			l.Done(errBackend) // evaluates
			if e := mustStatus(t, p, addrs(10)[3]); e.State != Up {
				t.Fatalf("%d failures in 200: %+v, want up", n, e)
			}
		}
		roundsOn(t, p, 200, map[string]func(int) bool{addrs(10)[3]: every(40)})
		time.Sleep(time.Second)
		l := leaseOn(t, p, addrs(10)[7])
		l.Done(nil)
		l = leaseOn(t, p, addrs(10)[6])
		l.Done(errBackend)
		if e := mustStatus(t, p, addrs(10)[3]); e.State != Ejected || e.Reason != SuccessRate {
			t.Fatalf("5 failures in 200 among perfect peers: %+v, want ejected by success rate", e)
		}
	})
}

// Fewer than MinHosts endpoints with enough requests: nothing is judged,
// however bad; Off turns the rules off for any pool.
func TestOutliersNeedMinHostsAndCanBeTurnedOff(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg Config
		n   int
	}{
		"four endpoints":                         {Config{Policy: RoundRobin}, 4},
		"off, ten endpoints":                     {Config{Policy: RoundRobin, Outlier: Outlier{Off: true}}, 10},
		"too few requests":                       {Config{Policy: RoundRobin, Outlier: Outlier{MinRequests: 500, FailureMinRequests: 500}}, 10},
		"off, with meters for an adaptive limit": {Config{Policy: RoundRobin, Outlier: Outlier{Off: true}, AdaptiveConcurrency: true, MaxConcurrency: 1 << 20}, 10},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := mustNew(t, tc.cfg, addrs(tc.n)...)
				gray := addrs(tc.n)[0]
				roundsOn(t, p, 200, map[string]func(int) bool{gray: every(2)})
				time.Sleep(time.Second)
				l := leaseOn(t, p, gray)
				l.Done(errBackend)
				if e := mustStatus(t, p, gray); e.State != Up {
					t.Fatalf("%+v: ejected", e)
				}
			})
		})
	}
}

// The MaxEjectedPercent cap holds for outliers too: past it the rule's
// ejection is an EventEjected with Refused, and the endpoint stays up.
func TestOutlierEjectionsKeepToTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: RoundRobin, EjectAfter: 255, MaxEjectedPercent: 10}, addrs(10)...)
		s, _ := p.Subscribe(SubscribeOptions{})
		defer s.Close()
		bad := map[string]func(int) bool{addrs(10)[0]: every(2), addrs(10)[1]: every(2)}
		roundsOn(t, p, 200, bad)
		time.Sleep(time.Second)
		l := leaseOn(t, p, addrs(10)[5])
		l.Done(errBackend)
		out := 0
		for _, e := range p.Endpoints() {
			if e.State != Up {
				out++
			}
		}
		events, _, _ := collectEvents(t, s, 2, time.Second)
		refused := 0
		for _, e := range events {
			if e.Kind == EventEjected && e.Refused && e.Reason == SuccessRate {
				refused++
			}
		}
		if out != 1 || refused != 1 {
			t.Fatalf("%d ejected, %d refusals (%v); want the cap's 1 and one refusal", out, refused, events)
		}
	})
}

// A pool whose requests all succeed never evaluates: no clock is read on
// any Done.
func TestOutlierDetectionReadsNoClockWithoutFailures(t *testing.T) {
	p := mustNew(t, Config{Policy: RoundRobin}, addrs(10)...)
	reads := 0
	testHookClockRead = func(q *Pool) {
		if q == p {
			reads++
		}
	}
	defer func() { testHookClockRead = nil }()
	for range 10000 {
		l, _ := p.Pick()
		l.Done(nil)
	}
	if reads != 0 {
		t.Fatalf("%d clock reads over 10,000 successes", reads)
	}
}

// A failed probe of an outlier keeps the outlier's cooldown rule and
// reason: the next ejection is EjectFor × 2, and says success rate.
func TestAnOutliersFailedProbeKeepsItsRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: RoundRobin, NoJitter: true}, addrs(10)...)
		gray := addrs(10)[9]
		roundsOn(t, p, 200, map[string]func(int) bool{gray: every(5)})
		time.Sleep(time.Second)
		l := leaseOn(t, p, gray)
		l.Done(errBackend)
		s, _ := p.Subscribe(SubscribeOptions{})
		defer s.Close()
		time.Sleep(DefaultOutlierEjectFor)
		probe := leaseOn(t, p, gray)
		probe.Done(errBackend)
		e := mustStatus(t, p, gray)
		if e.State != Ejected || e.Reason != SuccessRate || e.Until != time.Now().Add(2*DefaultOutlierEjectFor) {
			t.Fatalf("after a failed probe: %+v, want ejected by success rate for 2 × Outlier.EjectFor", e)
		}
		events, _, _ := collectEvents(t, s, 3, time.Second)
		last := events[len(events)-1]
		if last.Kind != EventEjected || last.Reason != SuccessRate {
			t.Fatalf("events %+v: want the re-ejection to say success rate", events)
		}
	})
}
