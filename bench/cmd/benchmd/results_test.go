package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sample = `goos: linux
pkg: github.com/nanolb/nanolb/bench/peers
BenchmarkPickDoneParallel/impl=nanolb-p2c/n=8-2   	 5471684	        8.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkPickDoneParallel/impl=nanolb-p2c/n=8-2   	 5471684	        9.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkPickDoneParallel/impl=nanolb-p2c/n=8-2   	 5471684	       100.0 ns/op	       0 B/op	       0 allocs/op
BenchmarkPickDoneParallel/impl=ref-atomic-pair/n=8-2   	 22783678	         4.00 ns/op	       0 B/op	       0 allocs/op
BenchmarkPickDoneParallel/impl=grpc-least-request/n=8-2   	 1000000	       108.6 ns/op	      72 B/op	       3 allocs/op
PASS
ok  	github.com/nanolb/nanolb/bench/peers	1.391s
`

func TestParseReadsNameKeysProcsAndUnits(t *testing.T) {
	rs := parse([]byte(sample))
	if len(rs) != 5 {
		t.Fatalf("parsed %d results, want 5", len(rs))
	}
	r := rs[4]
	want := result{pkg: "github.com/nanolb/nanolb/bench/peers", bench: "BenchmarkPickDoneParallel", name: "impl=grpc-least-request/n=8",
		impl: "grpc-least-request", n: "8", procs: "2", ns: 108.6, allocs: 3}
	if r != want {
		t.Fatalf("parsed %+v, want %+v", r, want)
	}
}

func TestTheRatioTableUsesMediansAgainstTheFloor(t *testing.T) {
	rs := parse([]byte(sample))
	var buf bytes.Buffer
	writeRatioTable(&buf, section{results: rs, floor: pickFloor(rs, []string{"absent", "ref-atomic-pair"})})
	got := buf.String()
	mustContain(t, "table", got,
		"(GOMAXPROCS=2)",
		"ratio to the median of every `ref-atomic-pair` sample",
		"| nanolb-p2c | 9.00 ns (2.25×) | 0 |", // median of 8, 9, 100 over 4
		"| grpc-least-request | 108.6 ns (27.15×) | 3 |",
		"| ref-atomic-pair | 4.00 ns (1.00×) | 0 |",
	)
}

// Keys other than impl/policy and n qualify the row, so that samples of
// different configurations are never pooled into one median; zero values
// keep the plain name.
func TestParseKeepsOtherKeysApart(t *testing.T) {
	rs := parse([]byte(`BenchmarkPickDone/policy=p2c/n=8/ejected=0%-2   100   11.0 ns/op   0 allocs/op
BenchmarkPickDone/policy=p2c/n=8/ejected=50%-2   100   45.0 ns/op   0 allocs/op
`))
	if len(rs) != 2 || rs[0].impl != "p2c" || rs[1].impl != "p2c (ejected=50%)" {
		t.Fatalf("parsed %+v", rs)
	}
}

func TestTextSectionsQuoteTheirFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "demo.txt")
	if err := os.WriteFile(path, []byte("client  errors\nnanolb  0\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeText(&buf, "Under faults="+path); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "\n## Under faults\n\n```\nclient  errors\nnanolb  0\n```\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"no-equals", "=" + path, "Title=", "Title=" + path + ".missing"} {
		if err := writeText(&buf, bad); err == nil {
			t.Errorf("writeText(%q) accepted", bad)
		}
	}
}

func TestMarkdownSectionsIncludeTheirFileAsItIs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zonesim.md")
	if err := os.WriteFile(path, []byte("N=3\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeMarkdown(&buf, "Zones="+path); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "\n## Zones\n\nN=3\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	empty := filepath.Join(t.TempDir(), "empty.md")
	if err := os.WriteFile(empty, []byte("\n \n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"no-equals", "=" + path, "Title=", "Title=" + path + ".missing", "Title=" + empty} {
		if err := writeMarkdown(&buf, bad); err == nil {
			t.Errorf("writeMarkdown(%q) accepted", bad)
		}
	}
}

// mustContain reports each of wants that text, the named output, lacks.
func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(text, want) {
			t.Errorf("%s lacks %q:\n%s", what, want, text)
		}
	}
}
