package lb

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestRoundRobinCyclesInOrder(t *testing.T) {
	as := addrs(5)
	p := mustNew(t, Config{Policy: RoundRobin}, as...)
	for k := range 5 * 200 {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if want := as[k%5]; l.Endpoint() != want {
			t.Fatalf("pick %d = %s, want %s", k, l.Endpoint(), want)
		}
		l.Done(nil)
	}
}

// Under concurrency each endpoint's share of 1,000,000 picks stays within 1%
// of fair, with one endpoint ejected (its tickets are drawn again, not
// passed to its neighbour, so the neighbour gets no double share).
func TestRoundRobinIsFairUnderConcurrency(t *testing.T) {
	const n, workers, perWorker = 7, 4, 250000
	as := addrs(n)
	p := mustNew(t, Config{Policy: RoundRobin, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 20}, as...)
	failTimes(t, p, as[3], 1)
	counts := make([]map[string]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			seen := map[string]int{}
			for range perWorker {
				l, err := p.Pick()
				if err != nil {
					panic(err)
				}
				seen[l.Endpoint()]++
				l.Done(nil)
			}
			counts[w] = seen
		})
	}
	wg.Wait()
	total := map[string]int{}
	for _, seen := range counts {
		for a, k := range seen {
			total[a] += k
		}
	}
	fair := float64(workers*perWorker) / (n - 1)
	for i, a := range as {
		if i == 3 {
			if total[a] != 0 {
				t.Errorf("ejected endpoint picked %d times", total[a])
			}
			continue
		}
		if dev := math.Abs(float64(total[a])-fair) / fair; dev > 0.01 {
			t.Errorf("%s: %d picks, %.2f%% off fair %.0f", a, total[a], 100*dev, fair)
		}
	}
}

func TestRoundRobinFindsTheLastEndpointUp(t *testing.T) {
	as := addrs(50)
	p := mustNew(t, Config{Policy: RoundRobin, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 100}, as...)
	for _, a := range as[:49] {
		failTimes(t, p, a, 1)
	}
	if seen := pickCounts(t, p, 100); seen[as[49]] != 100 {
		t.Fatalf("with one endpoint up: %v", seen)
	}
}

func TestFastmodMatchesModulo(t *testing.T) {
	for _, d := range []uint32{1, 2, 3, 7, 8, 1000, 10007, 1<<31 - 1, 1<<32 - 1} {
		m := ^uint64(0)/uint64(d) + 1
		for _, a := range []uint32{0, 1, d - 1, d, d + 1, 1<<32 - 1, 123456789} {
			if got, want := fastmod(a, m, d), a%d; got != want {
				t.Errorf("fastmod(%d, %d) = %d, want %d", a, d, got, want)
			}
		}
	}
}

// After picks collided (the table striped), a pool used serially again
// returns to exact cycles within stripeSpell picks (per stripe it ran on,
// if it moved between processors), and while striped each
// stripe cycles over every endpoint.
func TestRoundRobinCyclesExactlyAgainAfterCollisions(t *testing.T) {
	const n = 5
	as := addrs(n)
	p := mustNew(t, Config{Policy: RoundRobin}, as...)
	index := map[string]int{}
	for i, a := range as {
		index[a] = i
	}
	tab := p.tables.roundRobin.Load()
	tab.striped.Store(true) // as a collision on the shared counter does
	picks := 0
	seen := map[string]int{}
	for tab.striped.Load() {
		if picks++; picks > stripeSpell*len(tab.stripes) { // one spell per stripe the goroutine ran on
			t.Fatalf("still striped after %d serial picks", picks)
		}
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		seen[l.Endpoint()]++
		l.Done(nil)
	}
	for _, a := range as {
		if k, slack := seen[a], len(tab.stripes); k < picks/n-slack || k > picks/n+slack { // one off per stripe used
			t.Errorf("striped: %s got %d of %d picks", a, k, picks)
		}
	}
	last := -1
	for k := range n * 200 {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		i := index[l.Endpoint()]
		l.Done(nil)
		if last >= 0 && i != (last+1)%n {
			t.Fatalf("pick %d after striping ended: endpoint %d after %d", k, i, last)
		}
		last = i
	}
}

// Round robin under the skip rule: a ticket that lands on an endpoint that
// is not up is skipped, so over every run of u consecutive picks (u the
// endpoints up) each up endpoint is picked exactly once, in pool order,
// whichever endpoints are ejected and wherever the cursor starts.
func TestRoundRobinIsExactOverEveryCycleWithEjectedEndpoints(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		ejected []int
	}{
		{"none ejected", 5, nil},
		{"one ejected", 5, []int{2}},
		{"every other one ejected", 8, []int{0, 2, 4, 6}},
		{"a run of three ejected", 8, []int{1, 2, 3}},
		{"a run of three wrapping round the end", 7, []int{6, 0, 1}},
		{"all but one ejected", 6, []int{0, 1, 2, 3, 4}},
		{"a run of four ejected", 8, []int{0, 1, 2, 3}},
		{"a run of six ejected between two up", 8, []int{1, 2, 3, 4, 5, 6}},
		{"a run of four wrapping round the end", 9, []int{7, 8, 0, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := addrs(tc.n)
			p := mustNew(t, Config{Policy: RoundRobin, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 100}, as...)
			var up []string
			for i, a := range as {
				if slices.Contains(tc.ejected, i) {
					failTimes(t, p, a, 1)
				} else {
					up = append(up, a)
				}
			}
			for start := range 3 * tc.n { // every cursor position, a few times over
				seq := make([]string, 0, 4*len(up))
				for range 4 * len(up) {
					l, err := p.Pick()
					if err != nil {
						t.Fatal(err)
					}
					seq = append(seq, l.Endpoint())
					l.Done(nil)
				}
				first := slices.Index(up, seq[0])
				if first < 0 {
					t.Fatalf("cursor %d: picked %s, which is ejected", start, seq[0])
				}
				for k, a := range seq {
					if want := up[(first+k)%len(up)]; a != want {
						t.Fatalf("cursor %d: pick %d = %s, want %s; sequence %v", start, k, a, want, seq)
					}
				}
				// Move the cursor one ticket on for the next round.
				l, _ := p.Pick()
				l.Done(nil)
			}
		})
	}
}
