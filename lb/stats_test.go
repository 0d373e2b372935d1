package lb

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"
)

// Statistical and exact-sequence checks of the policies. P2C draws from the
// runtime's per-M generator, which a test cannot seed, so its bounds are
// derived below and set at six standard deviations: a correct P2C fails one
// in about 500 million runs, and the rules they rule out miss by hundreds of
// standard deviations. Round robin has no randomness at all and is checked
// pick by pick.

// A busy endpoint next to idle ones is never picked: it is a candidate in a
// share 2/n of the draws, but its partner is always distinct and idle, so
// the partner wins. A policy that ignored load would give it 1/n.
func TestP2CNeverPicksAnEndpointHeldBusyAmongIdleOnes(t *testing.T) {
	for _, n := range []int{2, 3, 8, 64} {
		for _, held := range []int{1, 3} {
			t.Run(fmt.Sprintf("n=%d/held=%d", n, held), func(t *testing.T) {
				as := addrs(n)
				p := mustNew(t, Config{}, as...)
				busy := as[n/2]
				var leases []Lease
				for range held {
					leases = append(leases, leaseOn(t, p, busy))
				}
				defer func() {
					for i := range leases {
						leases[i].Done(nil)
					}
				}()
				if seen := pickCounts(t, p, 20000); seen[busy] != 0 {
					t.Fatalf("busy endpoint (load %d against 0) picked %d times of 20000", held, seen[busy])
				}
			})
		}
	}
}

// One endpoint B is held busy with one lease while a client keeps exactly
// one request of its own in flight: each Pick's lease is ended just after
// the next Pick. So at every Pick B has load 1, the endpoint X of the
// client's previous lease has load 1 too (if X is not B), and the rest 0.
//
// P2C draws an ordered pair (a, b) of distinct endpoints, each of the
// n(n-1) pairs equally likely, and takes b only if it is strictly lighter.
//
//   - Previous lease on X != B: B wins only against X, as the first of the
//     tie (B, X): probability q = 1/(n(n-1)).
//   - Previous lease on B (load 2): every partner is lighter, so B never wins.
//
// The picks form a two-state Markov chain with P(B | not B) = q and
// P(B | B) = 0, whose stationary share of B is q/(1+q): 1/13 for n = 4,
// against 1/4 with no busy endpoint. The count's variance is below the
// binomial N·s·(1-s) (the lag-one correlation of the chain is -q), so six
// binomial standard deviations are a safe bound.
func TestP2CShareOfAnEndpointHeldBusyMatchesTheChain(t *testing.T) {
	const n, picks = 4, 200000
	as := addrs(n)
	p := mustNew(t, Config{}, as...)
	busy := leaseOn(t, p, as[0])
	defer busy.Done(nil)

	prev, err := p.Pick()
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for range picks {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		if l.Endpoint() == as[0] {
			got++
		}
		prev.Done(nil)
		prev = l
	}
	prev.Done(nil)

	q := 1 / float64(n*(n-1))
	share := q / (1 + q)
	want := share * picks
	slack := 6 * math.Sqrt(picks*share*(1-share))
	if math.Abs(float64(got)-want) > slack {
		t.Fatalf("busy endpoint got %d of %d picks, want %.0f ± %.0f (share %.4f; uniform would be %.0f)",
			got, picks, want, slack, share, float64(picks)/n)
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
