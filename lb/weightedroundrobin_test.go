package lb

import (
	"math"
	"testing"
	"time"
)

func weighted(ws ...int) []Endpoint {
	out := make([]Endpoint, len(ws))
	for i, w := range ws {
		out[i] = Endpoint{Addr: addrs(len(ws))[i], Weight: w}
	}
	return out
}

// Each endpoint's share of 1,000,000 picks is within 1% of its weight share
// (absolute), with and without an ejected endpoint.
func TestWeightedRoundRobinSharesFollowWeights(t *testing.T) {
	ws := []int{1, 2, 3, 10, 0} // 0 means 1
	p, err := NewWeighted(Config{Policy: WeightedRoundRobin, EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 20}, weighted(ws...)...)
	if err != nil {
		t.Fatal(err)
	}
	check := func(skip int) {
		t.Helper()
		total := 0
		for i, w := range ws {
			if i != skip {
				total += max(w, 1)
			}
		}
		const picks = 1000000
		seen := pickCounts(t, p, picks)
		for i, w := range ws {
			want := 0.0
			if i != skip {
				want = float64(max(w, 1)) / float64(total)
			}
			got := float64(seen[addrs(len(ws))[i]]) / picks
			if math.Abs(got-want) > 0.01 {
				t.Errorf("skip=%d: endpoint %d (weight %d) has share %.4f, want %.4f", skip, i, w, got, want)
			}
		}
	}
	check(-1)
	failTimes(t, p, addrs(len(ws))[3], 1)
	check(3)
}

// Smooth: the heaviest endpoint (10 of 13) never gets a long burst. Its
// picks are the tickets whose bit-reversed value falls in its 10/13 of the
// line, and consecutive tickets alternate halves of the line, so runs stay
// short: at most 7 over 2^16 tickets (measured), where a naive weighted
// round robin sends 10 in a row. nginx's smooth algorithm reaches 4, the
// optimum, but needs a lock or a schedule as long as the total weight.
func TestWeightedRoundRobinIsSmooth(t *testing.T) {
	p, err := NewWeighted(Config{Policy: WeightedRoundRobin}, weighted(10, 1, 1, 1)...)
	if err != nil {
		t.Fatal(err)
	}
	heavy := addrs(4)[0]
	run, longest := 0, 0
	for range 1 << 16 {
		l, _ := p.Pick()
		if l.Endpoint() == heavy {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
		l.Done(nil)
	}
	if longest > 7 {
		t.Fatalf("heaviest endpoint got %d picks in a row", longest)
	}
}

func TestWeightedIndexIsExactOverAFullCycle(t *testing.T) {
	cum := []uint64{1, 3, 6, 16} // weights 1, 2, 3, 10
	hits := make([]int, len(cum))
	const cycle = 1 << 12
	for ticket := range uint64(cycle) {
		hits[weightedIndex(cum, ticket)]++
	}
	prev := uint64(0)
	for i, c := range cum {
		want := float64(cycle) * float64(c-prev) / 16
		if math.Abs(float64(hits[i])-want) > 1 {
			t.Errorf("slot %d: %d hits over %d tickets, want %.0f ± 1", i, hits[i], cycle, want)
		}
		prev = c
	}
}

func TestWeightsAreValidated(t *testing.T) {
	for _, w := range []int{-1, MaxWeight + 1} {
		if _, err := NewWeighted(Config{}, Endpoint{Addr: "a:1", Weight: w}); err == nil {
			t.Errorf("weight %d accepted", w)
		}
	}
	p, _ := NewWeighted(Config{}, Endpoint{Addr: "a:1", Weight: 7})
	if e := mustStatus(t, p, "a:1"); e.Weight != 7 {
		t.Fatalf("weight reported as %d", e.Weight)
	}
	if err := p.AddWeighted(Endpoint{Addr: "a:1", Weight: 9}, Endpoint{Addr: "b:1"}); err != nil {
		t.Fatal(err)
	}
	if e := mustStatus(t, p, "a:1"); e.Weight != 7 {
		t.Fatal("AddWeighted of a present address changed its weight")
	}
	if e := mustStatus(t, p, "b:1"); e.Weight != 1 {
		t.Fatalf("zero weight means 1, got %d", e.Weight)
	}
}
