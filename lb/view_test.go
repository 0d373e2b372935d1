package lb

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// checkView fails unless p's view index agrees with every health word.
func checkView(t *testing.T, p *Pool) {
	t.Helper()
	v := p.view.Load()
	for i, c := range v.cores {
		h := c.health.Load()
		up := v.up[i/64].Load()&(1<<(i%64)) != 0
		if up != (stateOf(h) == stateUp) {
			t.Errorf("%s: up bit %v, health state %d", *c.addr, up, stateOf(h))
		}
		want := int64(never)
		if s := stateOf(h); s == stateEjected || s == stateProbing {
			want = deadlineOf(h)
		}
		if d := v.deadlines[i].Load(); d != want {
			t.Errorf("%s: view deadline %d, health deadline %d", *c.addr, d, want)
		}
		if int(c.index.Load()) != i {
			t.Errorf("%s: index %d, position %d", *c.addr, c.index.Load(), i)
		}
	}
}

func TestViewFollowsEveryHealthTransition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		as := addrs(70) // two bitmap words
		p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Second, NoJitter: true, MaxEjectedPercent: 100}, as...)
		checkView(t, p)
		for _, a := range []string{as[0], as[63], as[64], as[69]} {
			failTimes(t, p, a, 1) // ejection
		}
		checkView(t, p)
		time.Sleep(time.Second)
		synctest.Wait()
		var probes []Lease
		for range 4 {
			l, _ := p.Pick() // probe leases move deadlines
			probes = append(probes, l)
		}
		checkView(t, p)
		probes[0].Done(nil)              // reinstated
		probes[1].Done(errBackend)       // ejected again
		probes[2].Done(context.Canceled) // handed back
		checkView(t, p)
		if err := p.Remove(as[69], as[5]); err != nil {
			t.Fatal(err)
		}
		if err := p.Add("new:1"); err != nil {
			t.Fatal(err)
		}
		checkView(t, p)
		probes[3].Done(nil)
		checkView(t, p)
	})
}

// Health transitions racing with membership changes leave the view exact.
func TestViewStaysExactUnderRacingTransitions(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Millisecond, MaxEjectFor: time.Millisecond, MaxEjectedPercent: 100}, addrs(130)...)
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Go(func() {
			for i := range 3000 {
				l, err := p.Pick()
				if err != nil {
					continue
				}
				if (i+w)%3 == 0 {
					l.Done(errBackend)
				} else {
					l.Done(nil)
				}
			}
		})
	}
	for i := range 200 {
		_ = p.Add(fmt.Sprint("churn:", i%7))
		_ = p.Remove(fmt.Sprint("churn:", (i+3)%7))
	}
	wg.Wait()
	checkView(t, p)
}

// With 90% of endpoints out, the random draws mostly miss and the bitmap
// path (PopCount, Select) samples: still uniform over the 10 that are up.
// Chi-square over 9 degrees of freedom, 0.9999 quantile 33.7.
func TestChooseIsUniformWhenMostEndpointsAreOut(t *testing.T) {
	as := addrs(100)
	p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 100}, as...)
	for i, a := range as {
		if i%10 != 3 {
			failTimes(t, p, a, 1)
		}
	}
	v := p.view.Load()
	const draws = 50000
	hits := map[int]int{}
	for range draws {
		i := v.choose(-1)
		if i%10 != 3 {
			t.Fatalf("chose endpoint %d, which is out", i)
		}
		hits[i]++
	}
	chi := 0.0
	for i := 3; i < 100; i += 10 {
		d := float64(hits[i]) - draws/10
		chi += d * d / (draws / 10)
	}
	if chi > 33.7 || math.IsNaN(chi) {
		t.Fatalf("chi-square %.1f: %v", chi, hits)
	}
	if i := v.drawUp(3); i%10 != 3 || i == 3 {
		t.Fatalf("drawUp(skip 3) = %d", i)
	}
}
