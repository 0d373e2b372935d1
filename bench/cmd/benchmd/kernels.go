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
// (reference (a)), and the ratio of the asm median to the purego one
// (below 1: the kernels help).
func writeKernelTable(w io.Writer, p pair) {
	type row struct{ bench, impl, n string }
	asm, purego := medians(p.asm.results), medians(p.purego.results)
	var rows []row
	for _, r := range p.asm.results {
		rows = appendNew(rows, row{r.bench, r.impl, r.n})
	}
	fmt.Fprintf(w, "Median ns/op of each build; in brackets, the ratio to that build's own median `%s` (reference (a)); asm/purego below 1 means the kernels make it faster.\n\n", p.asm.floor)
	fmt.Fprintln(w, "| benchmark | row | n | asm | purego | asm/purego |")
	fmt.Fprintln(w, "|---|---|---:|---:|---:|---:|")
	for _, r := range rows {
		k := cellKey{r.bench, r.impl, r.n}
		a, okA := asm[k]
		g, okG := purego[k]
		cell := func(s section, m float64, ok bool) string {
			if !ok {
				return "–"
			}
			c := formatNs(m)
			if floor := floorSamples(s.results, r.bench, s.floor); len(floor) > 0 {
				c += fmt.Sprintf(" (%.2f×)", m/median(floor))
			}
			return c
		}
		ratio := "–"
		if okA && okG {
			ratio = fmt.Sprintf("%.2f", a/g)
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s | %s | %s |\n",
			strings.TrimPrefix(r.bench, "Benchmark"), r.impl, r.n, cell(p.asm, a, okA), cell(p.purego, g, okG), ratio)
	}
}

// medians is the median ns/op of each benchmark row.
func medians(rs []result) map[cellKey]float64 {
	samples := map[cellKey][]float64{}
	for _, r := range rs {
		k := cellKey{r.bench, r.impl, r.n}
		samples[k] = append(samples[k], r.ns)
	}
	out := make(map[cellKey]float64, len(samples))
	for k, xs := range samples {
		out[k] = median(xs)
	}
	return out
}

// writeKernelSection is the page's section for p: what the rows measure,
// the table, and benchstat's comparison.
func writeKernelSection(w io.Writer, p pair) {
	fmt.Fprintf(w, "\n## %s\n\n", p.title)
	fmt.Fprintln(w, "What the root package's assembly kernels (PopCount, Select, FirstDue, MinIndex) buy on lb's paths:")
	fmt.Fprintln(w, "lb's `BenchmarkKernelPaths` (lb/kernels_bench_test.go) from two test binaries, one built normally")
	fmt.Fprintln(w, "and one with `-tags purego` (every kernel then the reference Go code), run alternately round by")
	fmt.Fprintln(w, "round so that the machine's noise falls on both. Pick+Done at 50% ejected for policies that sample")
	fmt.Fprintln(w, "(P2C, Random: PopCount and Select when random draws keep missing) and RoundRobin (no kernel: the")
	fmt.Fprintln(w, "control); `probe`, a Pick+Done that leases the one due probe among 5,000 ejected endpoints, placed")
	fmt.Fprintln(w, "last so its scan covers all 10,000 deadlines (FirstDue, then MinIndex to re-arm the timer);")
	fmt.Fprintln(w, "`probe-scan`, those two scans alone.")
	fmt.Fprintln(w)
	writeKernelTable(w, p)
	if p.benchstat != "" {
		fmt.Fprintf(w, "\nbenchstat `-filter .unit:sec/op asm=%s purego=%s`:\n\n```\n%s```\n", p.asm.path, p.purego.path, p.benchstat)
	}
}
