package throttle

import (
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestNoRejectionWhileAcceptsKeepUp sends requests of which backends accept
// three in five, more than 1/K: the throttle never rejects one.
func TestNoRejectionWhileAcceptsKeepUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := New(DefaultK)
		for i := range 5000 {
			if !th.Allow() {
				t.Fatalf("request %d rejected with counts %v", i, counts(th))
			}
			th.Record(i%5 < 3)
			if i%50 == 49 {
				time.Sleep(time.Second)
			}
		}
		if p := th.Probability(); p != 0 {
			t.Fatalf("probability %v with counts %v, want 0", p, counts(th))
		}
	})
}

// TestConvergesToTheRule offers perSecond requests a second to backends
// that accept capacity a second and reject the rest. Past the first window
// the rejections drawn stay within five standard deviations of the sum of
// the probabilities the rule gives request by request, and the rejected
// share settles near 1 − K·capacity/perSecond.
func TestConvergesToTheRule(t *testing.T) {
	const (
		perSecond = 100
		capacity  = 10
		k         = 2.0
	)
	synctest.Test(t, func(t *testing.T) {
		th := New(k)
		var offered, rejected, sent, accepted int
		var expected, variance float64
		for second := range 360 {
			measure := second >= 180
			served := 0
			for range perSecond {
				p := th.Probability()
				ok := th.Allow()
				if !ok {
					if measure {
						rejected++
					}
				} else {
					accept := served < capacity
					if accept {
						served++
					}
					th.Record(accept)
					if measure {
						sent++
						if accept {
							accepted++
						}
					}
				}
				if measure {
					offered++
					expected += p
					variance += p * (1 - p)
				}
			}
			time.Sleep(time.Second)
		}
		if d := math.Abs(float64(rejected) - expected); d > 5*math.Sqrt(variance) {
			t.Errorf("%d rejections, the rule expects %.0f ± %.0f", rejected, expected, math.Sqrt(variance))
		}
		share := float64(rejected) / float64(offered)
		want := 1 - k*capacity/perSecond
		if math.Abs(share-want) > 0.03 {
			t.Errorf("rejected share %.3f, want %.3f ± 0.03", share, want)
		}
		if ratio := float64(sent) / float64(accepted); math.Abs(ratio-k) > 0.1 {
			t.Errorf("sent %d for %d accepted (%.2f), want about K = %v", sent, accepted, ratio, k)
		}
	})
}

// TestWindowForgets fills the window with rejections: the throttle
// remembers them for a minute and has forgotten them two minutes on.
func TestWindowForgets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := New(DefaultK)
		for range 1000 {
			if th.Allow() {
				th.Record(false)
			}
		}
		if p := th.Probability(); p < 0.99 {
			t.Fatalf("probability %v after 1000 rejections, want above 0.99", p)
		}
		time.Sleep(time.Minute)
		if r, _ := th.Counts(); r != 1000 {
			t.Fatalf("%d requests a minute on, want 1000", r)
		}
		time.Sleep(time.Minute)
		if p := th.Probability(); p != 0 {
			t.Fatalf("probability %v two minutes on, counts %v, want 0", p, counts(th))
		}
		if r, a := th.Counts(); r != 0 || a != 0 {
			t.Fatalf("counts %d, %d two minutes on, want 0, 0", r, a)
		}
		for i := range 100 {
			if !th.Allow() {
				t.Fatalf("request %d rejected after the window emptied", i)
			}
			th.Record(true)
		}
	})
}

// TestWindowDropsOneSecondAtATime checks that a bucket leaves the window
// exactly Window after it began, and no sooner.
func TestWindowDropsOneSecondAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := New(DefaultK)
		for s := range 3 {
			for range s + 1 {
				th.Allow()
				th.Record(true)
			}
			time.Sleep(time.Second)
		}
		time.Sleep(Window - 3*time.Second - time.Nanosecond)
		th.Probability() // turns the ring
		if r, a := th.Counts(); r != 6 || a != 6 {
			t.Fatalf("counts %d, %d just before the first bucket leaves, want 6, 6", r, a)
		}
		for _, want := range []int64{5, 3, 0} {
			time.Sleep(time.Second)
			th.Probability()
			if r, a := th.Counts(); r != want || a != want {
				t.Fatalf("counts %d, %d, want %d, %d", r, a, want, want)
			}
		}
	})
}

// TestCancelTakesBackARequest checks that a cancelled request counts for
// nothing, even when the ring turned between Allow and Cancel.
func TestCancelTakesBackARequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := New(DefaultK)
		th.Allow()
		time.Sleep(time.Second)
		th.Cancel()
		if r, _ := th.Counts(); r != 0 {
			t.Fatalf("%d requests after Cancel, want 0", r)
		}
		time.Sleep(Window)
		th.Probability()
		if r, _ := th.Counts(); r != 0 {
			t.Fatalf("%d requests after the window passed, want 0", r)
		}
	})
}

// TestConcurrentCountsAddUp runs requests from several goroutines across
// turns of the ring (run it under -race): the totals equal what was sent
// while nothing has left the window, and reach zero once everything has.
func TestConcurrentCountsAddUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := New(DefaultK)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for i := range 2000 {
					th.Allow()
					th.Record(true)
					if i%100 == 99 {
						time.Sleep(time.Second)
					}
				}
			})
		}
		wg.Wait()
		if r, a := th.Counts(); r != 8000 || a != 8000 {
			t.Fatalf("counts %d, %d, want 8000, 8000", r, a)
		}
		time.Sleep(Window)
		th.Probability()
		if r, a := th.Counts(); r != 0 || a != 0 {
			t.Fatalf("counts %d, %d after the window, want 0, 0", r, a)
		}
	})
}

// TestRejectedCountsEveryRejection runs requests against backends that
// accept none, from several goroutines across turns of the ring (run it
// under -race): Rejected is exactly the number of false answers from
// Allow, and those count as requests in the window.
func TestRejectedCountsEveryRejection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := New(DefaultK)
		var mu sync.Mutex
		rejected := 0
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				n := 0
				for i := range 500 {
					if th.Allow() {
						th.Record(false)
					} else {
						n++
					}
					if i%100 == 99 {
						time.Sleep(time.Second)
					}
				}
				mu.Lock()
				rejected += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if rejected < 1000 {
			t.Fatalf("%d of 2000 requests rejected with no accepts, want most", rejected)
		}
		want := Stats{Requests: 2000, Accepts: 0, Rejected: uint64(rejected)}
		if got := th.Stats(); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
	})
}

// TestStatsTurnsTheWindow checks that Stats forgets what left the window
// even when no request came since, as Counts alone does not, and that
// Rejected is a total the window does not forget.
func TestStatsTurnsTheWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		th := New(DefaultK)
		for range 10 {
			th.Allow()
			th.Record(true)
		}
		var rejected uint64
		for range 100 {
			if !th.Allow() {
				rejected++
			} else {
				th.Record(false)
			}
		}
		if rejected == 0 {
			t.Fatal("no request rejected after 100 rejections by the backends")
		}
		want := Stats{Requests: 110, Accepts: 10, Rejected: rejected}
		if got := th.Stats(); got != want {
			t.Fatalf("Stats() = %+v, want %+v", got, want)
		}
		time.Sleep(Window)
		if r, a := th.Counts(); r != 110 || a != 10 {
			t.Fatalf("Counts() = %d, %d before the window turned, want 110, 10", r, a)
		}
		want = Stats{Requests: 0, Accepts: 0, Rejected: rejected}
		if got := th.Stats(); got != want {
			t.Fatalf("Stats() = %+v a window on, want %+v", got, want)
		}
		if r, a := th.Counts(); r != 0 || a != 0 {
			t.Fatalf("Counts() = %d, %d after Stats turned the window, want 0, 0", r, a)
		}
	})
}

func TestNewRejectsKBelowOne(t *testing.T) {
	for _, k := range []float64{0, 0.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v) did not panic", k)
				}
			}()
			New(k)
		}()
	}
}

func TestAllowDoesNotAllocate(t *testing.T) {
	th := New(DefaultK)
	if n := testing.AllocsPerRun(1000, func() {
		if th.Allow() {
			th.Record(false)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per request, want 0", n)
	}
	if th.Stats().Rejected == 0 {
		t.Fatal("no request rejected: the rejecting path was not measured")
	}
}

func counts(th *Throttle) [2]int64 {
	r, a := th.Counts()
	return [2]int64{r, a}
}
