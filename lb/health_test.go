package lb

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

func TestSuccessEndsTheFailureStreak(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 5}, "a:1", "b:1")
	failTimes(t, p, "a:1", 3)
	if e := mustStatus(t, p, "a:1"); e.Streak != 3 || e.State != Up {
		t.Fatalf("after 3 failures: %+v", e)
	}
	l := leaseOn(t, p, "a:1")
	l.Done(nil)
	if e := mustStatus(t, p, "a:1"); e.Streak != 0 {
		t.Fatalf("after a success: %+v, want no streak", e)
	}
	failTimes(t, p, "a:1", 4)
	if e := mustStatus(t, p, "a:1"); e.State != Up {
		t.Fatalf("4 failures after a success ejected: %+v", e)
	}
}

func TestCancelledIsNeitherSuccessNorFailure(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 5}, "a:1", "b:1")
	failTimes(t, p, "a:1", 2)
	for range 10 {
		l := leaseOn(t, p, "a:1")
		l.Done(fmt.Errorf("rpc: %w", context.Canceled))
	}
	if e := mustStatus(t, p, "a:1"); e.Streak != 2 || e.State != Up {
		t.Fatalf("cancelled leases changed health: %+v", e)
	}
	l := leaseOn(t, p, "a:1")
	l.Done(context.DeadlineExceeded) // a deadline is the endpoint's failure
	if e := mustStatus(t, p, "a:1"); e.Streak != 3 {
		t.Fatalf("DeadlineExceeded did not count as a failure: %+v", e)
	}
}

func TestEjectionAtEjectAfterForEjectFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 3, EjectFor: 2 * time.Second, NoJitter: true, MaxEjectedPercent: 50}, "a:1", "b:1")
		failTimes(t, p, "a:1", 2)
		if e := mustStatus(t, p, "a:1"); e.State != Up {
			t.Fatalf("ejected before EjectAfter: %+v", e)
		}
		failTimes(t, p, "a:1", 1)
		e := mustStatus(t, p, "a:1")
		if e.State != Ejected || e.Ejections != 1 || !e.Until.Equal(time.Now().Add(2*time.Second)) {
			t.Fatalf("at EjectAfter: %+v, want ejected until now+2s", e)
		}
		if seen := pickCounts(t, p, 100); seen["a:1"] != 0 {
			t.Fatalf("ejected endpoint picked during its cooldown: %v", seen)
		}
	})
}

// An ordinary lease that ends on an endpoint after its ejection (it was
// picked before) changes nothing: only the probe decides.
func TestLateOutcomesOnAnEjectedEndpointChangeNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 1, NoJitter: true, MaxEjectedPercent: 50}, "a:1", "b:1")
		late1, late2 := leaseOn(t, p, "a:1"), leaseOn(t, p, "a:1")
		failTimes(t, p, "a:1", 1)
		before := mustStatus(t, p, "a:1")
		late1.Done(nil)
		late2.Done(errBackend)
		after := mustStatus(t, p, "a:1")
		before.InFlight = after.InFlight
		if after != before {
			t.Fatalf("late outcomes changed an ejected endpoint: %+v -> %+v", before, after)
		}
	})
}

// Penalty = EjectFor * 2^(k-1), capped: 1s, 2s, 4s, then the 5s cap, each
// measured as the time from a failed probe to the next probe.
func TestCooldownDoublesPerEjectionUpToTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Second, MaxEjectFor: 5 * time.Second, NoJitter: true, MaxEjectedPercent: 50}, "a:1", "b:1")
		failTimes(t, p, "a:1", 1)
		for k, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
			e := mustStatus(t, p, "a:1")
			if got := e.Until.Sub(time.Now()); got != want || e.Ejections != k+1 {
				t.Fatalf("ejection %d: cooldown %v (ejections %d), want %v", k+1, got, e.Ejections, want)
			}
			time.Sleep(want - time.Microsecond)
			synctest.Wait()
			if l, _ := p.Pick(); l.Probe() {
				t.Fatalf("ejection %d: probe before the cooldown ended", k+1)
			} else {
				l.Done(nil)
			}
			time.Sleep(time.Microsecond)
			synctest.Wait()
			probe, err := p.Pick()
			if err != nil || !probe.Probe() || probe.Endpoint() != "a:1" {
				t.Fatalf("ejection %d: first Pick after the cooldown = %q probe=%v %v", k+1, probe.Endpoint(), probe.Probe(), err)
			}
			probe.Done(errBackend)
		}
	})
}

func TestProbeSuccessResetsTheCooldown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Second, NoJitter: true, MaxEjectedPercent: 50}, "a:1", "b:1")
		failTimes(t, p, "a:1", 1)
		time.Sleep(time.Second)
		synctest.Wait()
		probe, _ := p.Pick()
		probe.Done(errBackend) // second ejection: 2s
		time.Sleep(2 * time.Second)
		synctest.Wait()
		probe, _ = p.Pick()
		if !probe.Probe() {
			t.Fatal("no probe after the doubled cooldown")
		}
		probe.Done(nil)
		if e := mustStatus(t, p, "a:1"); e.State != Up || e.Ejections != 0 || e.Streak != 0 {
			t.Fatalf("after a probe success: %+v, want up and clean", e)
		}
		failTimes(t, p, "a:1", 1)
		if e := mustStatus(t, p, "a:1"); e.Until.Sub(time.Now()) != time.Second {
			t.Fatalf("ejection after a success: cooldown %v, want EjectFor again", e.Until.Sub(time.Now()))
		}
	})
}

// Jitter draws each cooldown from [90%, 100%] of its nominal length.
func TestJitterShortensCooldownsByAtMostATenth(t *testing.T) {
	p := mustNew(t, Config{EjectFor: time.Second, MaxEjectFor: 8 * time.Second})
	for k, nominal := range map[uint64]int64{1: 1e6, 2: 2e6, 4: 8e6, 9: 8e6} {
		lowest, highest := nominal, int64(0)
		for range 2000 {
			d := p.penalty(k)
			lowest, highest = min(lowest, d), max(highest, d)
		}
		if lowest < nominal*9/10 || highest > nominal {
			t.Errorf("k=%d: cooldowns in [%d, %d]µs, want within [%d, %d]", k, lowest, highest, nominal*9/10, nominal)
		}
		if highest-lowest < nominal/20 {
			t.Errorf("k=%d: cooldowns in [%d, %d]µs barely vary: jitter is off", k, lowest, highest)
		}
	}
	still := mustNew(t, Config{EjectFor: time.Second, NoJitter: true})
	if d := still.penalty(1); d != 1e6 {
		t.Errorf("NoJitter: cooldown %dµs, want exactly 1s", d)
	}
}

func TestMaxEjectedPercentCapsEjections(t *testing.T) {
	as := addrs(10)
	p := mustNew(t, Config{EjectAfter: 2, EjectFor: time.Hour, MaxEjectedPercent: 10}, as...) // one of ten
	failTimes(t, p, as[0], 2)
	failTimes(t, p, as[1], 5)
	if e := mustStatus(t, p, as[0]); e.State != Ejected {
		t.Fatalf("first ejection not made: %+v", e)
	}
	e := mustStatus(t, p, as[1])
	if e.State != Up || e.Streak != 5 {
		t.Fatalf("ejection past the cap was made: %+v, want up with its streak", e)
	}
}

// Below 100% the last endpoint stays in, so Pick keeps answering.
func TestBelowAHundredPercentOneEndpointAlwaysStaysIn(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 99}, "a:1", "b:1")
	failTimes(t, p, "a:1", 1)
	failTimes(t, p, "b:1", 3)
	if _, err := p.Pick(); err != nil {
		t.Fatalf("Pick = %v with one endpoint left in", err)
	}
	single := mustNew(t, Config{EjectAfter: 1}, "only:1")
	failTimes(t, single, "only:1", 10)
	if e := mustStatus(t, single, "only:1"); e.State != Up {
		t.Fatalf("the only endpoint was ejected at 10%%: %+v", e)
	}
}

// At 100% every endpoint may go; then Pick says ErrNoEndpoint until one is
// due, and serves that one as a probe.
func TestAtAHundredPercentAllCanBeEjected(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Second, NoJitter: true, MaxEjectedPercent: 100}, "a:1", "b:1")
		failTimes(t, p, "a:1", 1)
		failTimes(t, p, "b:1", 1)
		if _, err := p.Pick(); !errors.Is(err, ErrNoEndpoint) {
			t.Fatalf("Pick with all ejected = %v, want ErrNoEndpoint", err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		l, err := p.Pick()
		if err != nil || !l.Probe() {
			t.Fatalf("Pick after the cooldown = probe %v, %v; want a probe", l.Probe(), err)
		}
		l2, err := p.Pick()
		if err != nil || !l2.Probe() || l2.Endpoint() == l.Endpoint() {
			t.Fatalf("second due endpoint: %q probe %v, %v", l2.Endpoint(), l2.Probe(), err)
		}
		if _, err := p.Pick(); !errors.Is(err, ErrNoEndpoint) {
			t.Fatalf("Pick with both probing = %v, want ErrNoEndpoint", err)
		}
		l.Done(nil)
		l2.Done(nil)
	})
}

// A fast-failing endpoint must not attract traffic before (or without)
// ejection: every load-aware policy sees a streak of k as a load of
// (in flight + 1)·2^k − 1, except on the trial share, so with idle healthy
// endpoints it gets a trickle (about 1/trialEvery of its share), not a
// black hole's most; and one success ends the penalty.
func TestAFailingEndpointLooksLoadedToLoadAwarePolicies(t *testing.T) {
	for _, pol := range []Policy{P2C, LeastLoaded, PeakEWMA, ConsistentHash} {
		t.Run(pol.String(), func(t *testing.T) {
			as := addrs(4)
			p := mustNew(t, Config{Policy: pol, EjectAfter: 255}, as...)
			failTimes(t, p, as[0], 3)
			seen := map[string]int{}
			for range 2000 { // as[0] keeps failing, the others succeed
				l, err := p.Pick()
				if err != nil {
					t.Fatal(err)
				}
				seen[l.Endpoint()]++
				if l.Endpoint() == as[0] {
					l.Done(errBackend)
				} else {
					l.Done(nil)
				}
			}
			if seen[as[0]] > 2000/4/trialEvery*2 {
				t.Fatalf("a failing endpoint picked %d of 2000 times: %v", seen[as[0]], seen)
			}
			if pol == PeakEWMA {
				return // its latency average, not counts, decides after a failure
			}
			if seen[as[0]] == 0 {
				t.Fatalf("endpoint with a streak got no trial picks at all: %v", seen)
			}
			// One success ends the streak and the penalty with it.
			l := leaseOn(t, p, as[0])
			l.Done(nil)
			if seen := pickCounts(t, p, 4000); seen[as[0]] < 400 {
				t.Fatalf("after a success, the endpoint got %d of 4000 picks: %v", seen[as[0]], seen)
			}
		})
	}
}

// The trial share lets an endpoint stuck below EjectAfter finish: under
// LeastLoaded with busy healthy endpoints, a backend that keeps failing is
// still sent requests until it is ejected (it used to be avoided forever,
// never ejected and never probed).
func TestAStreakBelowEjectAfterStillEndsInEjection(t *testing.T) {
	for _, pol := range []Policy{P2C, LeastLoaded, ConsistentHash} {
		t.Run(pol.String(), func(t *testing.T) {
			p := mustNew(t, Config{Policy: pol, EjectAfter: 5}, "bad:1", "good:1", "good:2")
			for range 2000 {
				l, err := p.Pick()
				if err != nil {
					t.Fatal(err)
				}
				if l.Endpoint() == "bad:1" {
					l.Done(errBackend)
				} else {
					l.Done(nil)
				}
			}
			if e := mustStatus(t, p, "bad:1"); e.State == Up {
				t.Fatalf("a backend failing every request is still up after 2000 picks: %+v", e)
			}
		})
	}
}

func TestStreakLoadDoublesPerFailureAndSaturates(t *testing.T) {
	for _, tc := range []struct {
		inflight int64
		streak   uint64
		want     int64
	}{
		{0, 0, 0}, {5, 0, 5}, {0, 1, 1}, {0, 3, 7}, {2, 2, 11},
		{0, 255, 1<<maxStreakShift - 1}, {1 << 20, 255, (1<<20+1)<<maxStreakShift - 1},
	} {
		counts := map[int64]int{}
		for range 8 * trialEvery {
			counts[streakLoad(tc.inflight, healthWord(stateUp, tc.streak, 0, 0))]++
		}
		if tc.streak == 0 {
			if counts[tc.want] != 8*trialEvery {
				t.Errorf("streakLoad(%d in flight, no streak) = %v, want always %d", tc.inflight, counts, tc.want)
			}
			continue
		}
		if counts[tc.want] == 0 || counts[tc.want]+counts[tc.inflight] != 8*trialEvery || counts[tc.inflight] > 4*trialEvery {
			t.Errorf("streakLoad(%d in flight, streak %d): %v, want mostly %d and the trial share %d", tc.inflight, tc.streak, counts, tc.want, tc.inflight)
		}
	}
}

// A timeout under load is not a failure of the endpoint while it still
// answers: streaks of timeouts broken by successes never eject, however
// long; timeouts alone eject once TimeoutGrace has passed since the
// streak's first, not before; other failures eject at EjectAfter as ever.
func TestTimeoutsEjectOnlyAnEndpointThatStoppedAnswering(t *testing.T) {
	timeOut := func(t *testing.T, p *Pool, addr string, n int, every time.Duration) {
		t.Helper()
		for range n {
			l := leaseOn(t, p, addr)
			time.Sleep(every)
			l.Done(fmt.Errorf("GET: %w", context.DeadlineExceeded))
		}
	}
	cfg := Config{EjectAfter: 3, TimeoutGrace: time.Second, MaxEjectedPercent: 50}
	t.Run("busy: timeouts between successes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := mustNew(t, cfg, "a:1", "b:1")
			for range 50 {
				timeOut(t, p, "a:1", 8, 10*time.Millisecond)
				if e := mustStatus(t, p, "a:1"); e.State != Up || e.Streak != 8 {
					t.Fatalf("after 8 timeouts in 80 ms: %+v, want up with streak 8", e)
				}
				l := leaseOn(t, p, "a:1")
				l.Done(nil)
			}
		})
	})
	t.Run("silent: timeouts alone", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := mustNew(t, cfg, "a:1", "b:1")
			timeOut(t, p, "a:1", 10, 99*time.Millisecond) // the last 891 ms after the first
			if e := mustStatus(t, p, "a:1"); e.State != Up {
				t.Fatalf("ejected %v after the first timeout: %+v", 9*99*time.Millisecond, e)
			}
			timeOut(t, p, "a:1", 1, 109*time.Millisecond) // 1 s after the first
			if e := mustStatus(t, p, "a:1"); e.State != Ejected {
				t.Fatalf("timeouts alone for TimeoutGrace: %+v, want ejected", e)
			}
		})
	})
	t.Run("answering with errors", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			p := mustNew(t, cfg, "a:1", "b:1")
			timeOut(t, p, "a:1", 2, time.Millisecond)
			failTimes(t, p, "a:1", 1)
			if e := mustStatus(t, p, "a:1"); e.State != Ejected {
				t.Fatalf("a failure at EjectAfter after timeouts: %+v, want ejected", e)
			}
		})
	})
}
