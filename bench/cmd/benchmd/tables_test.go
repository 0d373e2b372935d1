package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const membershipSample = `pkg: github.com/nanolb/nanolb/lb
BenchmarkMembership/op=add/policy=p2c/n=1000   100   50000 ns/op   1000 B/op   10 allocs/op
BenchmarkMembership/op=add/policy=p2c/n=10000   100   900000 ns/op   1000 B/op   10 allocs/op
BenchmarkMembership/op=add/policy=p2c/n=10000   100   1500000 ns/op   1000 B/op   12 allocs/op
BenchmarkMembership/op=add/policy=p2c/n=10000   100   700000 ns/op   1000 B/op   10 allocs/op
BenchmarkMembership/op=set-1%/policy=p2c/n=10000   100   2500000 ns/op   1000 B/op   43 allocs/op
BenchmarkMembership/op=set-10%/policy=p2c/n=10000   100   9000000 ns/op   1000 B/op   169 allocs/op
BenchmarkMembership/op=add/policy=consistent_hash/n=100000   1   423347000 ns/op   1000 B/op   11 allocs/op
BenchmarkMembership/op=add/policy=p2c/n=100000   10   11000000 ns/op   1000 B/op   10 allocs/op
`

func TestTheMembershipTableSetsMediansBesideTheTargets(t *testing.T) {
	var buf bytes.Buffer
	missed := writeMembershipTable(&buf, parse([]byte(membershipSample)))
	got := buf.String()
	mustContain(t, "table", got,
		"| policy | op | n=1000 | n=10000 | target | n=100000 | target |\n|---|---|---:|---:|---|---:|---|\n",
		"| p2c | add | 0.050 ms, 10 allocs | 0.900 ms, 12 allocs | ≤ 1 ms: met | 11.0 ms, 10 allocs | ≤ 15 ms: met |",
		"| p2c | set-1% | – | 2.50 ms, 43 allocs | ≤ 2 ms: **missed** | – | ≤ 15 ms, not run |",
		"| p2c | set-10% | – | 9.00 ms, 169 allocs | – | – | – |",
	)
	// A policy and op with no sample at any n has no row.
	if last := "| consistent_hash | add | – | – | ≤ 1 ms, not run | 423 ms, 11 allocs | ≤ 15 ms: **missed** |\n"; !strings.HasSuffix(got, last) {
		t.Errorf("the table does not end with %q:\n%s", last, got)
	}
	if missed != 2 {
		t.Errorf("missed = %d, want 2", missed)
	}
}

// Rounds of an interleaved run pair up: a slow round slows both builds,
// and its ratio stays what it is.
func TestThePairedRatioIsTheMedianOfTheRounds(t *testing.T) {
	asm, purego := []float64{10, 30, 100}, []float64{20, 60, 50}
	if got := pairedRatio(asm, purego); got != 0.5 {
		t.Errorf("paired ratio = %g, want 0.5 (round ratios 0.5, 0.5, 2)", got)
	}
	if got := pairedRatio(asm, purego[:2]); got != 30.0/40 {
		t.Errorf("unpaired ratio = %g, want the ratio of medians %g", got, 30.0/40)
	}
}

func TestTheKernelTableComparesEachBuildToItsOwnReference(t *testing.T) {
	asm := `pkg: github.com/nanolb/nanolb/lb
BenchmarkKernelPaths/policy=reference/n=10000   100   4.00 ns/op   0 allocs/op
BenchmarkKernelPaths/policy=probe-scan/n=10000/ejected=50%   100   1000 ns/op   0 allocs/op
BenchmarkKernelPaths/policy=reference/n=10000   100   6.00 ns/op   0 allocs/op
BenchmarkKernelPaths/policy=probe-scan/n=10000/ejected=50%   100   1200 ns/op   0 allocs/op
BenchmarkKernelPaths/policy=round_robin/n=10000/ejected=50%   100   20.0 ns/op   0 allocs/op
`
	purego := `pkg: github.com/nanolb/nanolb/lb
BenchmarkKernelPaths/policy=reference/n=10000   100   10.0 ns/op   0 allocs/op
BenchmarkKernelPaths/policy=probe-scan/n=10000/ejected=50%   100   8800 ns/op   0 allocs/op
BenchmarkKernelPaths/policy=round_robin/n=10000/ejected=50%   100   20.0 ns/op   0 allocs/op
`
	dir := writeFiles(t, map[string]string{"asm.txt": asm, "purego.txt": purego})
	p, err := parsePair("Kernels="+filepath.Join(dir, "asm.txt")+","+filepath.Join(dir, "purego.txt"), []string{"reference"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	writeKernelTable(&buf, p)
	got := buf.String()
	mustContain(t, "table", got,
		"| `KernelPaths` | reference | 10000 | 5.00 ns (1.00×) | 10.00 ns (1.00×) | 0.50 |",
		"| `KernelPaths` | probe-scan (ejected=50%) | 10000 | 1100 ns (220.00×) | 8800 ns (880.00×) | 0.12 |",
		"| `KernelPaths` | round_robin (ejected=50%) | 10000 | 20.00 ns (4.00×) | 20.00 ns (2.00×) | 1.00 |",
	)
	for _, bad := range []string{"Kernels", "Kernels=a.txt", "=a.txt,b.txt", "Kernels=a.txt,", "Kernels=" + filepath.Join(dir, "missing.txt") + ",b.txt"} {
		if _, err := parsePair(bad, nil); err == nil {
			t.Errorf("parsePair(%q) accepted", bad)
		}
	}
}

// The page carries the kernels and membership sections after the ratio
// tables, and -ratios prints their tables.
func TestThePageCarriesTheKernelAndMembershipSections(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"asm.txt":    "pkg: github.com/nanolb/nanolb/lb\nBenchmarkKernelPaths/policy=reference/n=10000   100   4.00 ns/op   0 allocs/op\n",
		"purego.txt": "pkg: github.com/nanolb/nanolb/lb\nBenchmarkKernelPaths/policy=reference/n=10000   100   5.00 ns/op   0 allocs/op\n",
		"m.txt":      membershipSample,
		"peers.txt":  sample,
	})
	page := filepath.Join(dir, "BENCHMARKS.md")
	args := []string{
		"-kernels", "Kernels asm vs purego=" + filepath.Join(dir, "asm.txt") + "," + filepath.Join(dir, "purego.txt"),
		"-membership", "Membership at scale=" + filepath.Join(dir, "m.txt"),
		"peers=" + filepath.Join(dir, "peers.txt"),
	}
	var stdout, stderr bytes.Buffer
	if err := run(append([]string{"-o", page}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	got := string(raw)
	iPeers, iKernels, iMembers := strings.Index(got, "\n## peers\n"), strings.Index(got, "\n## Kernels asm vs purego\n"), strings.Index(got, "\n## Membership at scale\n")
	if iPeers < 0 || iKernels < iPeers || iMembers < iKernels {
		t.Fatalf("sections out of order or missing (peers %d, kernels %d, membership %d):\n%s", iPeers, iKernels, iMembers, got)
	}
	mustContain(t, "page", got, "| `KernelPaths` | reference | 10000 | 4.00 ns (1.00×) | 5.00 ns (1.00×) | 0.80 |", "| p2c | set-1% |")
	stdout.Reset()
	if err := run(append([]string{"-ratios"}, args[:4]...), &stdout, &stderr); err != nil {
		t.Fatalf("-ratios with only -kernels and -membership: %v", err)
	}
	if got := stdout.String(); !strings.Contains(got, "| `KernelPaths` | reference |") || !strings.Contains(got, "| p2c | set-1% |") {
		t.Errorf("-ratios output lacks the tables:\n%s", got)
	}
}
