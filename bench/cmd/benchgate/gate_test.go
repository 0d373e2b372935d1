package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/bench/harness"
)

func floorSubject(t *testing.T) subject {
	t.Helper()
	c, err := harness.NewAtomicPair(harness.Addrs(1))
	if err != nil {
		t.Fatal(err)
	}
	return subject{name: harness.RefAtomicPair, cycler: c, floor: true}
}

var quick = config{rounds: 1, benchtime: 5 * time.Millisecond, n: 8}

func TestTheAllocationCheckFiresOnAnAllocatingCycle(t *testing.T) {
	results := measure([]subject{floorSubject(t), {name: "selftest-alloc", cycler: allocatingCycler{}}}, quick)
	failures := judge(results)
	if len(failures) != 1 || !strings.Contains(failures[0], "selftest-alloc allocates") {
		t.Fatalf("judge(%+v) = %q, want one allocation failure for selftest-alloc", results, failures)
	}
}

func TestTheFloorPassesTheAllocationCheck(t *testing.T) {
	results := measure([]subject{floorSubject(t)}, quick)
	if f := judge(results); len(f) != 0 {
		t.Fatalf("the floor alone failed: %q", f)
	}
	if results[0].allocsPerOp > maxAllocsPerOp {
		t.Fatalf("the floor measured %v allocs/op", results[0].allocsPerOp)
	}
}

func TestTheRatioCheckComparesTheMedianRoundWithTheLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ratios []float64
		limit  float64
		fails  bool
	}{
		{"a median under the limit passes despite one slow round", []float64{1.1, 9, 1.2}, 1.5, false},
		{"a median over the limit fails despite one fast round", []float64{1.6, 0.5, 1.7}, 1.5, true},
		{"a median equal to the limit passes", []float64{1.3}, 1.3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := result{subject: subject{name: harness.NanolbP2C, maxRatio: tc.limit}, ratios: tc.ratios}
			if got := len(judge([]result{r})) > 0; got != tc.fails {
				t.Fatalf("judge with ratios %v and limit %v failed=%v, want %v", tc.ratios, tc.limit, got, tc.fails)
			}
		})
	}
}

func TestSelftestAllocMakesTheGateExitNonZero(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-selftest-alloc", "-rounds", "1", "-benchtime", "5ms", "-p2c-max", "1e9", "-rr-max", "1e9"}, &out, &errOut)
	if code != 1 {
		t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, &out, &errOut)
	}
	if !strings.Contains(out.String(), "FAIL: selftest-alloc allocates") {
		t.Fatalf("no allocation failure reported:\n%s", &out)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.xs); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}
