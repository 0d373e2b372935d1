package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/bench/harness"
)

// config is the gate's parsed command line.
type config struct {
	p2cMax, rrMax float64
	rounds        int
	benchtime     time.Duration
	n             int
	selftestAlloc bool
}

// subject is one cycle under measurement. The floor has maxRatio 0; every
// other subject is compared with it.
type subject struct {
	name     string
	cycler   harness.Cycler
	maxRatio float64 // 0: not ratio-checked
	floor    bool
}

// result is what the gate measured for one subject.
type result struct {
	subject
	nsPerOp     []float64 // one per round
	ratios      []float64 // nsPerOp[i] / floor's nsPerOp[i], per round
	allocsPerOp float64   // worst of the benchmark rounds and the direct count
}

// maxAllocsPerOp is the allocation limit. It is zero in spirit: the
// threshold only absorbs a stray runtime allocation landing inside a
// measurement, and still catches a path that allocates once in a hundred.
const maxAllocsPerOp = 0.01

// gatedSubjects builds reference (a) and the two nanolb pools over cfg.n
// endpoints, plus the allocating self-test subject when asked.
func gatedSubjects(cfg config) ([]subject, error) {
	addrs := harness.Addrs(cfg.n)
	floor, err := harness.NewAtomicPair(addrs)
	if err != nil {
		return nil, err
	}
	subjects := []subject{{name: harness.RefAtomicPair, cycler: floor, floor: true}}
	limits := map[string]float64{harness.NanolbP2C: cfg.p2cMax, harness.NanolbRoundRobin: cfg.rrMax}
	for _, impl := range harness.Nanolb() {
		limit, gated := limits[impl.Name]
		if !gated {
			continue
		}
		c, err := impl.Build(addrs)
		if err != nil {
			return nil, fmt.Errorf("building %s: %w", impl.Name, err)
		}
		subjects = append(subjects, subject{name: impl.Name, cycler: c, maxRatio: limit})
		delete(limits, impl.Name)
	}
	for name := range limits {
		return nil, fmt.Errorf("harness has no driver named %s", name)
	}
	if cfg.selftestAlloc {
		subjects = append(subjects, subject{name: "selftest-alloc", cycler: allocatingCycler{}})
	}
	return subjects, nil
}

// allocatingCycler allocates on every cycle; -selftest-alloc puts it through
// the same checks as nanolb to show that they fail.
type allocatingCycler struct{}

var escape []byte

// Cycle allocates a fresh buffer that escapes to the heap.
func (allocatingCycler) Cycle() string {
	escape = make([]byte, 16)
	return "selftest"
}

// measure runs cfg.rounds rounds; in each, every subject is benchmarked once,
// in order, so that slow phases of a noisy machine hit all of them alike.
func measure(subjects []subject, cfg config) []result {
	testing.Init()
	if err := flag.Set("test.benchtime", cfg.benchtime.String()); err != nil {
		panic(err)
	}
	results := make([]result, len(subjects))
	for i, s := range subjects {
		results[i] = result{subject: s, allocsPerOp: directAllocs(s.cycler)}
	}
	for round := 0; round < cfg.rounds; round++ {
		for i := range results {
			r := &results[i]
			br := testing.Benchmark(func(b *testing.B) { harness.Serial(b, r.cycler) })
			if br.N == 0 {
				panic("benchgate: benchmark of " + r.name + " did not run")
			}
			r.nsPerOp = append(r.nsPerOp, float64(br.T.Nanoseconds())/float64(br.N))
			r.allocsPerOp = math.Max(r.allocsPerOp, float64(br.MemAllocs)/float64(br.N))
		}
	}
	var floor *result
	for i := range results {
		if results[i].floor {
			floor = &results[i]
		}
	}
	for i := range results {
		for round := range results[i].nsPerOp {
			results[i].ratios = append(results[i].ratios, results[i].nsPerOp[round]/floor.nsPerOp[round])
		}
	}
	return results
}

// directAllocs counts heap allocations over a fixed number of cycles after a
// warm-up, independently of the benchmark framework.
func directAllocs(c harness.Cycler) float64 {
	const warm, runs = 1000, 20000
	for range warm {
		c.Cycle()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		c.Cycle()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / runs
}

// judge returns one line per failed check.
func judge(results []result) []string {
	var failures []string
	for _, r := range results {
		if r.floor {
			continue
		}
		if r.allocsPerOp > maxAllocsPerOp {
			failures = append(failures, fmt.Sprintf("%s allocates: %.3g allocs/op (limit %g)", r.name, r.allocsPerOp, maxAllocsPerOp))
		}
		if r.maxRatio > 0 {
			if ratio := median(r.ratios); ratio > r.maxRatio {
				failures = append(failures, fmt.Sprintf("%s costs %.2fx reference (a), limit %.2fx", r.name, ratio, r.maxRatio))
			}
		}
	}
	return failures
}

// report prints one line per subject: the median, every round, the ratio to
// the floor and the allocation count.
func report(w io.Writer, results []result) {
	fmt.Fprintf(w, "%-18s %10s %12s %-8s %s\n", "impl", "ns/op", "allocs/op", "ratio", "limit   rounds (ns/op)")
	for _, r := range results {
		rounds := make([]string, len(r.nsPerOp))
		for i, ns := range r.nsPerOp {
			rounds[i] = fmt.Sprintf("%.2f", ns)
		}
		ratio, limit := "-", "-"
		if !r.floor {
			ratio = fmt.Sprintf("%.2fx", median(r.ratios))
		}
		if r.maxRatio > 0 {
			limit = fmt.Sprintf("%.2fx", r.maxRatio)
		}
		fmt.Fprintf(w, "%-18s %10.2f %12.3g %-8s %-7s %s\n", r.name, median(r.nsPerOp), r.allocsPerOp, ratio, limit, strings.Join(rounds, " "))
	}
}

// median of xs; xs is not modified.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
