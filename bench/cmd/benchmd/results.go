package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// result is one line of `go test -bench` output.
type result struct {
	pkg    string // the package of the last "pkg:" header line before it
	bench  string // "BenchmarkPickDone"
	name   string // the sub-benchmark path after bench, "policy=p2c/n=8"
	impl   string // value of the impl= key
	n      string // value of the n= key
	procs  string // GOMAXPROCS suffix, "" when 1
	ns     float64
	allocs float64 // NaN when not reported
}

// parse reads the benchmark lines of raw go test output. Lines that are not
// results (headers, PASS, ok) are skipped.
func parse(raw []byte) []result {
	var rs []result
	pkg := ""
	for _, line := range strings.Split(string(raw), "\n") {
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		r := result{pkg: pkg, allocs: math.NaN()}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 && !strings.Contains(name[i:], "/") && !strings.Contains(name[i:], "=") {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name, r.procs = name[:i], name[i+1:]
			}
		}
		parts := strings.Split(name, "/")
		r.bench = parts[0]
		r.name = strings.Join(parts[1:], "/")
		var extra []string // other keys, such as ejected=10%, qualify the row
		for _, p := range parts[1:] {
			if k, v, ok := strings.Cut(p, "="); ok {
				switch k {
				case "impl", "policy":
					r.impl = v
				case "n":
					r.n = v
				default:
					if v != "0" && v != "0%" {
						extra = append(extra, k+"="+v)
					}
				}
			}
		}
		if r.impl == "" {
			r.impl = strings.Join(parts[1:], "/")
		}
		if len(extra) > 0 {
			r.impl += " (" + strings.Join(extra, ", ") + ")"
		}
		ok := false
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.ns, ok = v, true
			case "allocs/op":
				r.allocs = v
			}
		}
		if ok {
			rs = append(rs, r)
		}
	}
	return rs
}

// pickFloor returns the first candidate impl present in rs, or "".
func pickFloor(rs []result, candidates []string) string {
	for _, c := range candidates {
		for _, r := range rs {
			if r.impl == c {
				return c
			}
		}
	}
	return ""
}

type cellKey struct{ bench, impl, n string }

// writeRatioTable writes, per benchmark function, a markdown table with one
// row per impl and one column per n: median ns/op and, when the file has a
// floor, the ratio of medians to the floor at the same n.
func writeRatioTable(w io.Writer, s section) {
	samples := map[cellKey][]float64{}
	allocs := map[cellKey]float64{}
	var benches, impls, ns []string
	procs := map[string]string{}
	for _, r := range s.results {
		k := cellKey{r.bench, r.impl, r.n}
		samples[k] = append(samples[k], r.ns)
		if !math.IsNaN(r.allocs) {
			allocs[k] = math.Max(allocs[k], r.allocs)
		}
		benches = appendNew(benches, r.bench)
		impls = appendNew(impls, r.impl)
		ns = appendNew(ns, r.n)
		procs[r.bench] = r.procs
	}
	for _, b := range benches {
		gmp := procs[b]
		if gmp == "" {
			gmp = "1"
		}
		fmt.Fprintf(w, "`%s` (GOMAXPROCS=%s), median ns/op", b, gmp)
		if s.floor != "" {
			fmt.Fprintf(w, " and ratio to the median of every `%s` sample of this benchmark (it does not depend on n)", s.floor)
		}
		fmt.Fprintf(w, ", max allocs/op:\n\n| impl |")
		var cols []string
		for _, n := range ns {
			if hasAny(samples, b, n) {
				cols = append(cols, n)
				fmt.Fprintf(w, " n=%s |", n)
			}
		}
		fmt.Fprintf(w, " allocs/op |\n|---|%s---:|\n", strings.Repeat("---:|", len(cols)))
		for _, impl := range impls {
			if !hasImpl(samples, b, impl) {
				continue
			}
			fmt.Fprintf(w, "| %s |", impl)
			maxAllocs := math.NaN()
			for _, n := range cols {
				k := cellKey{b, impl, n}
				xs, ok := samples[k]
				if !ok {
					fmt.Fprint(w, " – |")
					continue
				}
				m := median(xs)
				cell := formatNs(m)
				if floor := floorSamples(s.results, b, s.floor); len(floor) > 0 {
					cell += fmt.Sprintf(" (%.2f×)", m/median(floor))
				}
				if _, bad := s.suspects[k]; bad {
					cell += " " + flagMark
				}
				fmt.Fprintf(w, " %s |", cell)
				if a, ok := allocs[k]; ok {
					if math.IsNaN(maxAllocs) || a > maxAllocs {
						maxAllocs = a
					}
				}
			}
			if math.IsNaN(maxAllocs) {
				fmt.Fprint(w, " – |\n")
			} else {
				fmt.Fprintf(w, " %g |\n", maxAllocs)
			}
		}
		fmt.Fprintln(w)
		var flagged []string
		for k, why := range s.suspects {
			if k.bench == b {
				flagged = append(flagged, fmt.Sprintf("%s %s impl=%s n=%s: %s", flagMark, k.bench, k.impl, k.n, why))
			}
		}
		if len(flagged) > 0 {
			slices.Sort(flagged)
			fmt.Fprintf(w, "%s marks a Pick+Done that cannot be one (it allocates, or costs more than %g× reference (a)):\n\n", flagMark, s.maxRatio)
			for _, f := range flagged {
				fmt.Fprintf(w, "- %s\n", f)
			}
			fmt.Fprintln(w)
		}
	}
}

// flagMark marks a suspect cell in a ratio table.
const flagMark = "⚠"

// floorSamples is every ns/op of the floor impl in benchmark bench, all n
// pooled: the floor's work does not depend on n, and pooling makes the
// denominator of every ratio the same, robust number.
func floorSamples(rs []result, bench, floor string) []float64 {
	var xs []float64
	for _, r := range rs {
		if floor != "" && r.bench == bench && r.impl == floor {
			xs = append(xs, r.ns)
		}
	}
	return xs
}

func formatNs(ns float64) string {
	switch {
	case ns >= 1000:
		return fmt.Sprintf("%.0f ns", ns)
	case ns >= 100:
		return fmt.Sprintf("%.1f ns", ns)
	default:
		return fmt.Sprintf("%.2f ns", ns)
	}
}

func hasAny(m map[cellKey][]float64, bench, n string) bool {
	for k := range m {
		if k.bench == bench && k.n == n {
			return true
		}
	}
	return false
}

func hasImpl(m map[cellKey][]float64, bench, impl string) bool {
	for k := range m {
		if k.bench == bench && k.impl == impl {
			return true
		}
	}
	return false
}

func appendNew[T comparable](xs []T, x T) []T {
	if slices.Contains(xs, x) {
		return xs
	}
	return append(xs, x)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// lbPkg is the import path of nanolb's lb package, whose Pick+Done rows
// (other than its references and floors) are nanolb's own.
const lbPkg = "github.com/nanolb/nanolb/lb"

// checked reports whether r is one of nanolb's Pick+Done rows, the rows the
// sanity check covers: a Benchmark{PickDone,PickDoneParallel,...} row of the
// lb package that is not a reference or a floor, or a row of any package
// whose impl is nanolb's ("nanolb-p2c" in bench/peers). Peers' rows are not
// checked: some allocate by design.
func checked(r result, floor string) bool {
	if !strings.HasPrefix(r.bench, "BenchmarkPickDone") || r.impl == floor {
		return false
	}
	if strings.HasPrefix(r.impl, "nanolb") {
		return true
	}
	if r.pkg != lbPkg {
		return false
	}
	for _, p := range []string{"reference", "floor-", "ref-"} {
		if strings.HasPrefix(r.impl, p) {
			return false
		}
	}
	return true
}

// suspects finds nanolb's Pick+Done rows that cannot be a Pick+Done: a
// row that allocates (any sample above 0 allocs/op), or whose median is
// more than maxRatio times the section's floor (reference (a)) in the same
// benchmark. Both have been published by mistake before, from a benchmark
// that timed the pool's construction (209,166,025 ns/op and 11,353
// allocs/op). It returns each such cell with its reasons.
func suspects(s section, maxRatio float64) map[cellKey]string {
	samples := map[cellKey][]float64{}
	allocs := map[cellKey]float64{}
	for _, r := range s.results {
		if !checked(r, s.floor) {
			continue
		}
		k := cellKey{r.bench, r.impl, r.n}
		samples[k] = append(samples[k], r.ns)
		if !math.IsNaN(r.allocs) {
			allocs[k] = math.Max(allocs[k], r.allocs)
		}
	}
	out := map[cellKey]string{}
	for k, xs := range samples {
		var why []string
		if a := allocs[k]; a > 0 {
			why = append(why, fmt.Sprintf("%g allocs/op", a))
		}
		if floor := floorSamples(s.results, k.bench, s.floor); len(floor) > 0 {
			if ratio := median(xs) / median(floor); ratio > maxRatio {
				why = append(why, fmt.Sprintf("%.0f× reference (a), above %g×", ratio, maxRatio))
			}
		}
		if len(why) > 0 {
			out[k] = strings.Join(why, ", ")
		}
	}
	return out
}

// suspectLines lists suspects as "bench/impl/n: why", sorted.
func suspectLines(sus map[cellKey]string) []string {
	var lines []string
	for k, why := range sus {
		lines = append(lines, fmt.Sprintf("%s impl=%s n=%s: %s", k.bench, k.impl, k.n, why))
	}
	slices.Sort(lines)
	return lines
}
