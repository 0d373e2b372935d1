package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// lbSuspect is lb output with one healthy Pick+Done row and the rows the
// sanity check must catch: the old parallel ConsistentHash row that timed
// the pool's construction (both reasons), a row that allocates, and one
// above 1,000× reference (a); beside them rows it must leave alone: a
// floor above the limit and a row just under it.
const lbSuspect = `goos: linux
pkg: github.com/nanolb/nanolb/lb
BenchmarkPickDoneParallel/policy=reference/n=10000-2   100   5.00 ns/op   0 B/op   0 allocs/op
BenchmarkPickDoneParallel/policy=p2c/n=10000-2   100   20.0 ns/op   0 B/op   0 allocs/op
BenchmarkPickDoneParallel/policy=least_loaded/n=10000-2   100   4999 ns/op   0 B/op   0 allocs/op
BenchmarkPickDoneParallel/policy=floor-p2c/n=10000-2   100   9000 ns/op   0 B/op   0 allocs/op
BenchmarkPickDoneParallel/policy=consistent_hash/n=10000-2   1   209166025 ns/op   900000 B/op   11353 allocs/op
BenchmarkPickDoneParallel/policy=round_robin/n=10000-2   100   21.0 ns/op   16 B/op   1 allocs/op
BenchmarkPickDoneParallel/policy=peak_ewma/n=10000-2   100   5001 ns/op   0 B/op   0 allocs/op
PASS
`

// peersSuspect is bench/peers output: a peer that allocates is not
// nanolb's row and stays unflagged; nanolb's own row through the harness is
// checked.
const peersSuspect = `pkg: github.com/nanolb/nanolb/bench/peers
BenchmarkPickDone/impl=ref-atomic-pair/n=8   100   4.00 ns/op   0 B/op   0 allocs/op
BenchmarkPickDone/impl=grpc-least-request/n=8   100   108.6 ns/op   72 B/op   3 allocs/op
BenchmarkPickDone/impl=nanolb-p2c/n=8   100   12.0 ns/op   8 B/op   1 allocs/op
`

func sectionOf(t *testing.T, raw string) section {
	t.Helper()
	rs := parse([]byte(raw))
	s := section{results: rs, floor: pickFloor(rs, []string{"ref-atomic-pair", "reference"}), maxRatio: 1000}
	s.suspects = suspects(s, 1000)
	return s
}

func TestTheSanityCheckFindsRowsThatCannotBeAPickDone(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      []string
	}{
		{"lb rows", lbSuspect, []string{
			"BenchmarkPickDoneParallel impl=consistent_hash n=10000: 11353 allocs/op, 41833205× reference (a), above 1000×",
			"BenchmarkPickDoneParallel impl=peak_ewma n=10000: 1000× reference (a), above 1000×",
			"BenchmarkPickDoneParallel impl=round_robin n=10000: 1 allocs/op",
		}},
		{"peer rows", peersSuspect, []string{
			"BenchmarkPickDone impl=nanolb-p2c n=8: 1 allocs/op",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := suspectLines(sectionOf(t, tc.raw).suspects)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("suspects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestTheRatioTableMarksSuspectRows(t *testing.T) {
	var buf bytes.Buffer
	writeRatioTable(&buf, sectionOf(t, lbSuspect))
	got := buf.String()
	mustContain(t, "table", got,
		"| consistent_hash | 209166025 ns (41833205.00×) ⚠ | 11353 |",
		"| round_robin | 21.00 ns (4.20×) ⚠ | 1 |",
		"| p2c | 20.00 ns (4.00×) | 0 |",
		"| least_loaded | 4999 ns (999.80×) | 0 |",
		"| floor-p2c | 9000 ns (1800.00×) | 0 |",
		"- ⚠ BenchmarkPickDoneParallel impl=round_robin n=10000: 1 allocs/op\n",
	)
}

// writeFiles writes name=content pairs into a temporary directory and
// returns its path.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestThePageIsRefusedWithSuspectRowsAndTheRatiosAreFlagged(t *testing.T) {
	dir := writeFiles(t, map[string]string{"lb.txt": lbSuspect, "peers.txt": sample})
	page := filepath.Join(dir, "BENCHMARKS.md")
	lb, peers := "lb="+filepath.Join(dir, "lb.txt"), "peers="+filepath.Join(dir, "peers.txt")

	var stdout, stderr bytes.Buffer
	err := run([]string{"-o", page, peers, lb}, &stdout, &stderr)
	if !errors.Is(err, errSuspect) {
		t.Fatalf("run = %v, want errSuspect", err)
	}
	if _, err := os.Stat(page); !os.IsNotExist(err) {
		t.Errorf("the refused page was written (stat: %v)", err)
	}
	mustContain(t, "stderr", stderr.String(), "refusing to publish 3 Pick+Done rows", "impl=consistent_hash n=10000", "impl=round_robin n=10000", "impl=peak_ewma n=10000")

	stdout.Reset()
	stderr.Reset()
	if err := run([]string{"-ratios", peers, lb}, &stdout, &stderr); err != nil {
		t.Fatalf("-ratios: %v\n%s", err, stderr.String())
	}
	if got := stdout.String(); !strings.Contains(got, "| consistent_hash | 209166025 ns (41833205.00×) ⚠ |") ||
		!strings.Contains(got, "⚠ 3 Pick+Done rows flagged") {
		t.Errorf("-ratios output lacks the flags:\n%s", got)
	}

	stderr.Reset()
	if err := run([]string{"-o", page, peers}, &stdout, &stderr); err != nil {
		t.Fatalf("a clean file was refused: %v\n%s", err, stderr.String())
	}
	if raw, err := os.ReadFile(page); err != nil || !strings.Contains(string(raw), "| nanolb-p2c | 9.00 ns (2.25×) | 0 |") ||
		!strings.Contains(string(raw), "costs more than 1000× reference (a)") {
		t.Errorf("page %q (%v) lacks the clean row or the stated limit", raw, err)
	}
}
