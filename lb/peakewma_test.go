package lb

import (
	"math"
	"testing"
	"time"
)

// fakeNanos gives p a latency clock the test moves by hand.
func fakeNanos(p *Pool) *int64 {
	now := int64(1)
	p.nanos = func() int64 { return now }
	if t := p.tables.peakEWMA.Load(); t != nil {
		t.clock = p.nanos
	}
	return &now
}

// timedLease picks addr and reports it after latency rtt.
func timedLease(t *testing.T, p *Pool, now *int64, addr string, rtt time.Duration) {
	t.Helper()
	l := leaseOn(t, p, addr)
	*now += int64(rtt)
	l.Done(nil)
}

func TestPeakEWMAFollowsPeaksAndDecays(t *testing.T) {
	p := mustNew(t, Config{Policy: PeakEWMA, EWMADecay: 10 * time.Second}, "a:1", "b:1")
	now := fakeNanos(p)
	s := peakSlotOf((p.view.Load().cores)[0])
	tau := p.cfg.ewmaDecay

	timedLease(t, p, now, "a:1", 10*time.Millisecond)
	if got := s.average(*now, tau); got != float64(10*time.Millisecond) {
		t.Fatalf("first sample: average %v, want the sample", got)
	}
	timedLease(t, p, now, "a:1", 50*time.Millisecond)
	if got := s.average(*now, tau); got != float64(50*time.Millisecond) {
		t.Fatalf("a peak replaces the average at once: %v", got)
	}
	// A lower sample 10 s (one time constant) later: weight 1-1/e.
	*now += int64(10*time.Second) - int64(time.Millisecond)
	timedLease(t, p, now, "a:1", time.Millisecond)
	want := 50e6/math.E + 1e6*(1-1/math.E)
	if got := s.average(*now, tau); math.Abs(got-want) > want*1e-6 {
		t.Fatalf("after one time constant: average %.0f, want %.0f", got, want)
	}
	// Read with no new sample, the average keeps decaying towards 0.
	if later := s.average(*now+int64(10*time.Second), tau); math.Abs(later-want/math.E) > want*1e-6 {
		t.Fatalf("decay on read: %.0f, want %.0f", later, want/math.E)
	}
}

// The slow endpoint receives far less traffic: P2C on cost sends every pick
// whose candidates are {slow, fast} to the fast one.
func TestPeakEWMAPrefersTheFasterEndpoint(t *testing.T) {
	as := addrs(4)
	p := mustNew(t, Config{Policy: PeakEWMA}, as...)
	now := fakeNanos(p)
	for i, a := range as {
		rtt := time.Millisecond
		if i == 0 {
			rtt = 100 * time.Millisecond
		}
		timedLease(t, p, now, a, rtt)
	}
	seen := pickCounts(t, p, 6000)
	// With 4 endpoints, the slow one is in half the pairs... and loses each:
	// zero picks while every lease is released before the next pick.
	if seen[as[0]] != 0 {
		t.Fatalf("slow endpoint picked %d of 6000 times: %v", seen[as[0]], seen)
	}
}

// An endpoint with no latency sample yet and leases in flight costs a
// penalty, so a new endpoint is tried but not stampeded.
func TestPeakEWMAPenalisesUnmeasuredBusyEndpoints(t *testing.T) {
	p := mustNew(t, Config{Policy: PeakEWMA}, "new:1", "known:1")
	now := fakeNanos(p)
	timedLease(t, p, now, "known:1", 5*time.Millisecond)
	s := peakSlotOf((p.view.Load().cores)[0])
	if s.load(*now, p.cfg.ewmaDecay) != 0 {
		t.Fatal("an idle unmeasured endpoint should cost nothing")
	}
	held := leaseOn(t, p, "new:1")
	defer held.Done(nil)
	if s.load(*now, p.cfg.ewmaDecay) < penaltyCost {
		t.Fatal("a busy unmeasured endpoint should cost the penalty")
	}
	if seen := pickCounts(t, p, 100); seen["new:1"] != 0 {
		t.Fatalf("busy unmeasured endpoint picked: %v", seen)
	}
}

func TestPeakEWMACancelledLeasesTeachNothing(t *testing.T) {
	p := mustNew(t, Config{Policy: PeakEWMA}, "a:1")
	now := fakeNanos(p)
	l, _ := p.Pick()
	*now += int64(time.Second)
	l.Done(errCanceled)
	if s := peakSlotOf((p.view.Load().cores)[0]); s.cost.Load() != 0 {
		t.Fatal("a cancelled lease recorded a latency")
	}
}
