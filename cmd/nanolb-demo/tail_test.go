package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
)

func TestTailScenarioComparesHedging(t *testing.T) {
	c, err := parseFlags([]string{"-scenario", "tail"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	labels := func(specs []clientSpec) string {
		var l []string
		for _, s := range specs {
			l = append(l, s.Label())
		}
		return strings.Join(l, ",")
	}
	if got, want := labels(c.clients), "nanolb p2c,nanolb p2c hedge 10ms,nanolb p2c hedge p99 (10ms first),httplb,naive"; got != want {
		t.Errorf("tail clients %q, want %q", got, want)
	}
	if c.opts.Duration != 12*time.Second {
		t.Errorf("tail's phase lasts %v without -duration, want 12s", c.opts.Duration)
	}
	sc := c.scenario
	b := sc.tailBackend()
	if b < 0 || len(sc.Backends) != 5 || sc.Backends[b].SlowPercent != 1 || sc.Backends[b].SlowDelay != 200*time.Millisecond {
		t.Fatalf("tail: %d backends, the slow one at %d: %+v", len(sc.Backends), b, sc.Backends)
	}
	for _, s := range sc.Backends {
		if s.Delay != 5*time.Millisecond || s.Join != 0 || s.Windows != nil || s.FailPercent != 0 {
			t.Errorf("backend %s: %+v; want 5 ms from the start, no faults", s.Name, s)
		}
	}

	c, err = parseFlags([]string{"-scenario", "tail", "-hedge-after", "20ms", "-hedge-extra-load", "0.001", "-clients", "p2c,p2c-hedge,p2c-hedge-pct"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := labels(c.clients), "nanolb p2c,nanolb p2c hedge 20ms,nanolb p2c hedge p99.9 (20ms first)"; got != want {
		t.Errorf("-hedge-after 20ms -hedge-extra-load 0.001: clients %q, want %q", got, want)
	}
	if c.clients[0].HedgeAfter != 0 || c.clients[0].HedgeExtraLoad != 0 || c.clients[1].HedgeExtraLoad != 0 {
		t.Errorf("the hedging flags reached a client that does not hedge, or the fixed delay's: %+v", c.clients)
	}
}

func TestSummarizeTailCountsExtraAttemptsAndSlowCallers(t *testing.T) {
	ms := time.Millisecond
	r := &phaseResult{
		Spec:          clientSpec{Kind: "nanolb", Policy: lb.P2C, HedgeAfter: 10 * ms},
		Duration:      time.Second,
		Backends:      tailBackends(),
		Received:      [][]int64{{100, 102}, {100, 100}, {100, 110}, {100, 100}, {100, 100}},
		Slow:          4,
		SlowAnswered:  1,
		Hedges:        &lbhttp.HedgeStats{Sent: 15, Won: 3, Refused: 2},
		InFlightAfter: 0,
	}
	for range 996 {
		r.Samples = append(r.Samples, sample{Latency: 6 * ms})
	}
	r.Samples = append(r.Samples, sample{Latency: 16 * ms}, sample{Latency: 99 * ms},
		sample{Latency: 100 * ms, Err: true}, sample{Latency: 201 * ms})
	row := summarizeTail(r, 2)
	if row.Requests != 1000 || row.Errors != 1 || row.Attempts != 1012 || row.Extra() != 0.012 {
		t.Errorf("requests %d, errors %d, attempts %d, extra %v; want 1000, 1, 1012, 0.012", row.Requests, row.Errors, row.Attempts, row.Extra())
	}
	if row.P50 != 6*ms || row.P99 != 6*ms || row.P999 != 100*ms {
		t.Errorf("p50 %v, p99 %v, p99.9 %v; want 6ms, 6ms, 100ms", row.P50, row.P99, row.P999)
	}
	if row.Slow != 4 || row.SlowAnswered != 1 || row.SlowSeen != 2 {
		t.Errorf("slow drawn %d, answered %d, callers past 100 ms %d; want 4, 1, 2", row.Slow, row.SlowAnswered, row.SlowSeen)
	}
	base := tailRow{Label: "nanolb p2c", Nanolb: true, Requests: 1000, Attempts: 1000, P999: 200 * ms}
	good := tailRow{Label: "nanolb p2c hedge p99 (10ms first)", Nanolb: true, Requests: 1000, Attempts: 1040, P999: 20 * ms, Hedges: &lbhttp.HedgeStats{Sent: 45}}
	naive := tailRow{Label: "naive", Requests: 1000, Attempts: 1000, P999: 200 * ms, InFlight: -1}
	if g := tailGains([]tailRow{naive, good}); g[0] != 0 || g[1] != 0 {
		t.Errorf("gains without a nanolb row that does not hedge: %v, want none", g)
	}
	var table bytes.Buffer
	writeTailTable(&table, 100*ms, []tailRow{base, row, good, naive})
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	for i, want := range [][]string{
		{"callers ≥ 100 ms", "p99.9 gain", "≥ 5×, ≤ 5%, no errors"},
		{"nanolb p2c ", " 1.0× "},
		{" 2.0× ", " 1.20 ", " 15 ", " no"}, // too little gain, and an error
		{" 10.0× ", " 4.00 ", " 45 ", " yes"},
		{"naive ", " 1.0× "},
	} {
		for _, w := range want {
			if i >= len(lines) || !strings.Contains(lines[i], w) {
				t.Errorf("tail table line %d lacks %q:\n%s", i, w, table.String())
			}
		}
	}
	if n := strings.Count(lines[len(lines)-1], "–"); n != 5 {
		t.Errorf("the naive client's row has %d dashes, want 5 (no hedges, no pool, no target):\n%s", n, table.String())
	}
}

// budgetBound is the most attempts past one per request lbhttp's default
// retry budget allows n requests over wall: the full bucket it starts
// with (ten seconds of 10 a second), 20% of the requests and 10 a second.
func budgetBound(n int, wall time.Duration) float64 {
	return 10*lbhttp.DefaultRetryMinPerSecond + lbhttp.DefaultRetryRatio*float64(n) + lbhttp.DefaultRetryMinPerSecond*wall.Seconds()
}

// TestHedgingKeepsTheSlowAnswersFromCallers runs the tail script for 2 s,
// its slow share raised to 4% of the tail backend's requests (0.8% of all,
// still below the 1% that hedging at the 99th percentile leaves alone) so
// that a short phase draws enough slow answers, through P2C without
// hedging, hedging at the 99th percentile, and hedging after 1 ms, which
// every request would take but the retry budget bounds. Without hedging
// every slow answer reaches a caller; at the percentile, hedges win over
// them and cancel most. Every setup must keep its callers free of errors,
// its extra attempts within the budget, and end every lease.
func TestHedgingKeepsTheSlowAnswersFromCallers(t *testing.T) {
	noLeak(t)
	sc, err := lookupScenario("tail")
	if err != nil {
		t.Fatal(err)
	}
	sc.Backends = tailBackends()
	b := sc.tailBackend()
	sc.Backends[b].SlowPercent = 4
	slowDelay := sc.Backends[b].SlowDelay
	run := func(spec clientSpec, dur time.Duration) (tailRow, int, time.Duration) {
		opts := options{Duration: dur, Concurrency: 16, MaxRequests: 100000, Buckets: 20, Poll: 50 * time.Millisecond}
		r, err := runPhase(context.Background(), sc, spec, opts, func(float64) {})
		if err != nil {
			t.Fatal(err)
		}
		row := summarizeTail(r, b)
		waited := 0 // callers who waited out a whole slow answer
		for _, s := range r.Samples {
			if s.Latency >= slowDelay {
				waited++
			}
		}
		t.Logf("%s: %d requests, %d errors, p50 %v, p99 %v, p99.9 %v; slow drawn %d, answered %d; callers ≥ %v %d, ≥ %v %d; extra %.2f%%; hedges %+v; in flight after %d",
			row.Label, row.Requests, row.Errors, row.P50, row.P99, row.P999, row.Slow, row.SlowAnswered,
			slowDelay/2, row.SlowSeen, slowDelay, waited, 100*row.Extra(), row.Hedges, row.InFlight)
		if row.Errors != 0 {
			t.Errorf("%s: %d errors reached callers (%s)", row.Label, row.Errors, r.FirstErr)
		}
		if row.InFlight != 0 {
			t.Errorf("%s: %d leases still in flight a second after the phase", row.Label, row.InFlight)
		}
		if bound := budgetBound(row.Requests, r.Wall); float64(row.Attempts-int64(row.Requests)) > bound {
			t.Errorf("%s: %d attempts for %d requests in %v; the retry budget allows at most %.0f extra",
				row.Label, row.Attempts, row.Requests, r.Wall, bound)
		}
		return row, waited, r.Wall
	}

	off, offWaited, _ := run(clientSpec{Kind: "nanolb", Policy: lb.P2C}, 2*time.Second)
	if off.Slow < 5 || off.SlowAnswered != off.Slow || offWaited < int(off.Slow) {
		t.Fatalf("without hedging the tail backend drew %d slow answers, answered %d, and %d callers waited %v: the script did not bite",
			off.Slow, off.SlowAnswered, offWaited, slowDelay)
	}
	if off.Attempts != int64(off.Requests) {
		t.Errorf("without hedging or failures the backends received %d attempts for %d requests", off.Attempts, off.Requests)
	}

	pct, pctWaited, _ := run(clientSpec{Kind: "nanolb", Policy: lb.P2C, HedgeAfter: tailHedgeAfter, HedgeExtraLoad: tailHedgeExtraLoad}, 2*time.Second)
	if pct.Slow < 5 || pct.SlowAnswered > pct.Slow/4 {
		t.Errorf("hedging at p99: the tail backend answered %d of its %d slow draws; want at most a quarter, of at least 5", pct.SlowAnswered, pct.Slow)
	}
	if h := pct.Hedges; h == nil || h.Won < uint64(pct.Slow)/2 {
		t.Errorf("hedging at p99: hedges %+v for %d slow draws; want at least half as many won", h, pct.Slow)
	}
	if pctWaited > offWaited/4 {
		t.Errorf("callers who waited %v or more: %d hedging at p99, %d without; want at most a quarter", slowDelay, pctWaited, offWaited)
	}

	every, _, wall := run(clientSpec{Kind: "nanolb", Policy: lb.P2C, HedgeAfter: time.Millisecond}, time.Second)
	if h := every.Hedges; h == nil || h.Refused == 0 || float64(h.Sent) > budgetBound(every.Requests, wall) {
		t.Errorf("hedging after 1 ms: hedges %+v for %d requests in %v; want some refused, and no more sent than the budget's %.0f",
			h, every.Requests, wall, budgetBound(every.Requests, wall))
	}
}

// TestTailTableHasARowPerClient runs the tail scenario briefly through
// every client it compares: the tail table follows the results table, a
// row each.
func TestTailTableHasARowPerClient(t *testing.T) {
	noLeak(t)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-scenario", "tail", "-duration", "400ms", "-concurrency", "4", "-buckets", "8", "-out", t.TempDir() + "/report.html"}, &stdout, &stderr, false)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	i := strings.Index(out, "\ntail: ")
	if i < 0 {
		t.Fatalf("no tail table:\n%s", out)
	}
	for _, c := range tailClients() {
		row := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(c.Label()) + `\s+\d`)
		if n := len(row.FindAllString(out[i:], -1)); n != 1 {
			t.Errorf("the tail table has no row for %s:\n%s", c.Label(), out[i:])
		}
	}
}
