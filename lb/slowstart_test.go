package lb

import (
	"math"
	"testing"
	"testing/synctest"
	"time"
)

// shareOf picks n times and returns addr's share of the leases.
func shareOf(t *testing.T, p *Pool, addr string, n int) float64 {
	t.Helper()
	got := 0
	for range n {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if l.Endpoint() == addr {
			got++
		}
		l.Done(nil)
	}
	return float64(got) / float64(n)
}

// An endpoint that joins a pool serving for a second starts at
// MinWeightPercent of its share and ramps linearly (aggression 1) to all of
// it over the window; the pool's first endpoints never ramp, nor one that
// joins within its first second, and once the ramp ends Pick is back on its
// fast path.
func TestSlowStartRampsAnAddedEndpointsShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: Random, SlowStart: SlowStart{Window: 10 * time.Second}}, addrs(5)...)
		if p.ramp.count.Load() != 0 {
			t.Fatalf("%d endpoints of New ramping", p.ramp.count.Load())
		}
		time.Sleep(999 * time.Millisecond)
		if err := p.Add("10.9.9.8:8080"); err != nil || p.ramp.count.Load() != 0 {
			t.Fatalf("joined within the pool's first second: %d ramping (%v)", p.ramp.count.Load(), err)
		}
		time.Sleep(2 * time.Millisecond)
		newcomer := "10.9.9.9:8080"
		if err := p.Add(newcomer); err != nil {
			t.Fatal(err)
		}
		fair := 1.0 / 7
		check := func(factor float64) {
			t.Helper()
			got := shareOf(t, p, newcomer, 60000)
			// Kept with probability f, else the policy draws again (up to
			// twice): for a sixth of the picks its share is within a few
			// percent of s·f.
			want := fair * factor
			if math.Abs(got-want) > 0.25*want+0.005 {
				t.Fatalf("share %.4f at factor %.2f, want about %.4f", got, factor, want)
			}
		}
		check(0.1)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		check(0.5)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		check(0.9)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if p.ramp.count.Load() != 0 {
			t.Fatalf("%d endpoints still ramping after the window", p.ramp.count.Load())
		}
		check(1)
	})
}

// An endpoint reinstated after an ejection ramps again; one removed while
// it ramps stops counting.
func TestSlowStartRampsAReinstatedEndpointAndForgetsARemovedOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: Random, EjectAfter: 1, NoJitter: true, SlowStart: SlowStart{Window: 10 * time.Second, MinWeightPercent: 5}}, addrs(5)...)
		back := addrs(5)[2]
		failTimes(t, p, back, 1)
		time.Sleep(time.Second)
		probe := leaseOn(t, p, back)
		probe.Done(nil)
		if p.ramp.count.Load() != 1 {
			t.Fatalf("%d ramping after a reinstatement, want 1", p.ramp.count.Load())
		}
		if got, want := shareOf(t, p, back, 60000), 0.2*0.05; math.Abs(got-want) > 0.25*want+0.005 {
			t.Fatalf("reinstated endpoint's share %.4f, want about %.4f", got, want)
		}
		if err := p.Remove(back); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if p.ramp.count.Load() != 0 {
			t.Fatalf("%d ramping after the ramping endpoint left", p.ramp.count.Load())
		}
	})
}

// Keyed picks ignore the ramp: a key's endpoint does not move.
func TestSlowStartLeavesKeyedPicksWhereTheyAre(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: ConsistentHash, SlowStart: SlowStart{Window: time.Minute}}, addrs(4)...)
		if err := p.Add("10.9.9.9:8080"); err != nil {
			t.Fatal(err)
		}
		q := mustNew(t, Config{Policy: ConsistentHash}, append(addrs(4), "10.9.9.9:8080")...)
		for k := range uint64(2000) {
			a, _ := p.PickKeyUint64(k)
			b, _ := q.PickKeyUint64(k)
			if a.Endpoint() != b.Endpoint() {
				t.Fatalf("key %d: %s while ramping, %s without slow start", k, a.Endpoint(), b.Endpoint())
			}
			a.Done(nil)
			b.Done(nil)
		}
	})
}

// The ramp's factor: MinWeightPercent first, then (t/window)^(1/aggression).
func TestSlowStartFactor(t *testing.T) {
	s, err := SlowStart{Window: 10 * time.Second, Aggression: 2, MinWeightPercent: 20}.resolve()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		t    time.Duration
		want float64
	}{{0, 0.2}, {time.Second, 0.316}, {2500 * time.Millisecond, 0.5}, {10 * time.Second, 1}, {time.Minute, 1}} {
		if got := float64(s.factor(micros(tc.t))) / rampOne; math.Abs(got-tc.want) > 0.001 {
			t.Errorf("factor at %v = %.4f, want %.3f", tc.t, got, tc.want)
		}
	}
}

// Least loaded always chooses an idle newcomer over busy peers; the ramp
// still holds it to its factor (asking the policy again would not).
func TestSlowStartHoldsBackAnIdleNewcomerUnderLeastLoaded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: LeastLoaded, SlowStart: SlowStart{Window: 10 * time.Second}}, addrs(4)...)
		for _, a := range addrs(4) { // one lease in flight on each: busier than the newcomer
			leaseOn(t, p, a)
		}
		time.Sleep(2 * time.Second)
		newcomer := "10.9.9.9:8080"
		if err := p.Add(newcomer); err != nil {
			t.Fatal(err)
		}
		got := 0
		const n = 20000
		for range n {
			l, err := p.Pick()
			if err != nil {
				t.Fatal(err)
			}
			if l.Endpoint() == newcomer {
				got++
			}
			l.Done(nil)
		}
		if share := float64(got) / n; share < 0.07 || share > 0.13 {
			t.Fatalf("idle newcomer at factor 0.1 got %.3f of picks, want about 0.1 (least loaded alone gives it all)", share)
		}
	})
}
