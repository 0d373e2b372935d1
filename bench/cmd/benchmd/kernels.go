package main

import (
	"fmt"
	"io"
	"strings"
)

// The kernels table: the same benchmarks from two builds of one test
// binary, with the root package's assembly kernels and with -tags purego,
// run interleaved round by round (make -C bench bench-kernels).

// pair is two results files of the same benchmarks from two builds.
type pair struct {
	title     string
	asm       section
	purego    section
	benchstat string // benchstat's comparison of the two files, if run
}

// parsePair reads 'Title=asm.txt,purego.txt'.
func parsePair(arg string, floors []string) (pair, error) {
	title, paths, ok := strings.Cut(arg, "=")
	asmPath, puregoPath, ok2 := strings.Cut(paths, ",")
	if !ok || !ok2 || title == "" || asmPath == "" || puregoPath == "" {
		return pair{}, fmt.Errorf("-kernels %q: want 'Title=asm.txt,purego.txt'", arg)
	}
	p := pair{title: title}
	for _, s := range []*section{&p.asm, &p.purego} {
		path := asmPath
		if s == &p.purego {
			path = puregoPath
		}
		sec, err := readSection(title, path, floors)
		if err != nil {
			return pair{}, err
		}
		*s = sec
	}
	return p, nil
}

// writeKernelTable writes one row per benchmark row of the asm file: its
// median ns/op in each build, each as a ratio to its own build's floor
// (reference (a)), and asm/purego: with as many samples in both files (the
// rounds of an interleaved run), the median of each round's asm/purego
// ratio, so that a slow spell of the machine, which falls on both samples
// of its round, cancels; otherwise the ratio of the medians.
func writeKernelTable(w io.Writer, p pair) {
	type row struct{ bench, impl, n string }
	asm, purego := samplesOf(p.asm.results), samplesOf(p.purego.results)
	var rows []row
	for _, r := range p.asm.results {
		rows = appendNew(rows, row{r.bench, r.impl, r.n})
	}
	fmt.Fprintf(w, "Median ns/op of each build; in brackets, the ratio to that build's own median `%s` (reference (a)); asm/purego is the median of the rounds' ratios (below 1: the kernels make it faster).\n\n", p.asm.floor)
	fmt.Fprintln(w, "| benchmark | row | n | asm | purego | asm/purego |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	for _, r := range rows {
		k := cellKey{r.bench, r.impl, r.n}
		a, g := asm[k], purego[k]
		cell := func(s section, xs []float64) string {
			if len(xs) == 0 {
				return "–"
			}
			m := median(xs)
			c := formatNs(m)
			if floor := floorSamples(s.results, r.bench, s.floor); len(floor) > 0 {
				c += fmt.Sprintf(" (%.2f×)", m/median(floor))
			}
			return c
		}
		ratio := "–"
		if len(a) > 0 && len(g) > 0 {
			ratio = fmt.Sprintf("%.2f", pairedRatio(a, g))
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s |\n",
			strings.TrimPrefix(r.bench, "Benchmark"), r.impl, r.n, cell(p.asm, a), cell(p.purego, g), ratio)
	}
}

// pairedRatio is the median of a[i]/b[i] when a and b have as many samples,
// else median(a)/median(b).
func pairedRatio(a, b []float64) float64 {
	if len(a) != len(b) {
		return median(a) / median(b)
	}
	rs := make([]float64, len(a))
	for i := range a {
		rs[i] = a[i] / b[i]
	}
	return median(rs)
}

// samplesOf is every ns/op sample of each benchmark row, in file order.
func samplesOf(rs []result) map[cellKey][]float64 {
	out := map[cellKey][]float64{}
	for _, r := range rs {
		k := cellKey{r.bench, r.impl, r.n}
		out[k] = append(out[k], r.ns)
	}
	return out
}

// writeKernelSection is the page's section for p: what the rows measure,
// the table, and benchstat's comparison.
func writeKernelSection(w io.Writer, p pair) {
	fmt.Fprintf(w, "\n## %s\n\n", p.title)
	for _, line := range []string{
		"What the root package's assembly kernels (PopCount, Select, FirstDue, MinIndex) buy on lb's paths:",
		"lb's `BenchmarkKernelPaths` (lb/kernels_bench_test.go) from two test binaries, one built normally",
		"and one with `-tags purego` (every kernel then the reference Go code), run alternately round by round",
		"so that the machine's noise falls on both; serial (GOMAXPROCS=1).",
		"",
		"- Pick+Done with 50% and 90% of the endpoints ejected. P2C and Random call PopCount and Select over",
		"  the bitmap of endpoints that are up only when eight random draws in a row miss (0.5^8 = 0.4% of",
		"  those draws at 50%, 0.9^8 = 43% at 90%); RoundRobin calls no kernel: its rows are the control.",
		"- `probe`: a Pick+Done that leases the one due probe among 5,000 ejected endpoints, placed last so",
		"  that the probe scan covers all 10,000 deadlines (FirstDue, then MinIndex to re-arm the wake timer).",
		"- `probe-scan`: those two scans alone, over the same deadlines.",
	} {
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w)
	writeKernelTable(w, p)
	if p.benchstat != "" {
		fmt.Fprintf(w, "\nbenchstat `-filter .unit:sec/op asm=%s purego=%s`:\n\n```\n%s```\n", p.asm.path, p.purego.path, p.benchstat)
	}
}
