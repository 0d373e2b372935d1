package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/nanolb/nanolb/lb"
)

func TestGrayScenarioRunsWithoutRetriesOnLBDefaults(t *testing.T) {
	c, err := parseFlags([]string{"-scenario", "gray"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.opts.Duration != 10*time.Second {
		t.Errorf("gray's phase lasts %v without -duration, want 10s", c.opts.Duration)
	}
	if len(c.clients) != 9 {
		t.Errorf("gray runs %d clients, want every policy but shard, httplb and naive", len(c.clients))
	}
	sc := c.scenario
	if sc.Attempts != 1 || !sc.LBDefaults {
		t.Errorf("gray: Attempts %d, LBDefaults %v; want 1 (no retries) and lb's defaults", sc.Attempts, sc.LBDefaults)
	}
	if g := sc.grayBackend(); g < 0 || len(sc.Backends) != 10 || sc.Backends[g].FailPercent != 20 {
		t.Fatalf("gray: %d backends, the gray one at %d", len(sc.Backends), g)
	}
	for _, b := range sc.Backends {
		if b.Delay != 5*time.Millisecond || b.Join != 0 || b.Windows != nil {
			t.Errorf("backend %s: %+v; want 5 ms from the start, no fault windows", b.Name, b)
		}
	}
	c, err = parseFlags([]string{"-scenario", "gray", "-duration", "3s"}, io.Discard)
	if err != nil || c.opts.Duration != 3*time.Second {
		t.Fatalf("-duration 3s: %v, %v", c.opts.Duration, err)
	}
	if got := nanolbSetup(sc); !strings.Contains(got, "no retries") || !strings.Contains(got, "default Config") {
		t.Errorf("the report says of nanolb: %q", got)
	}
}

func TestShareBetweenCountsWholeBucketsInTheWindow(t *testing.T) {
	r := &phaseResult{
		Duration: 2 * time.Second,
		// Four buckets of half a second.
		Received: [][]int64{{10, 10, 10, 10}, {10, 0, 2, 6}},
	}
	for _, tc := range []struct {
		from, to float64
		want     float64
	}{
		{0, 2, 18.0 / 58},
		{1, 2, 8.0 / 28},
		{0.9, 1.6, 2.0 / 12}, // the buckets the window cuts are left out
		{0.5, 1, 0},
		{3, 4, 0}, // nothing received
	} {
		if got := shareBetween(r, 1, tc.from, tc.to); got != tc.want {
			t.Errorf("share in [%v, %v) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestSummarizeGrayCountsLateErrorsAndTheGrayEjections(t *testing.T) {
	r := &phaseResult{
		Spec:     clientSpec{Kind: "nanolb", Policy: lb.P2C},
		Duration: 2 * time.Second,
		Samples:  []sample{{At: 0.2, Err: true}, {At: 0.5}, {At: 1.1}, {At: 1.5, Err: true}, {At: 1.6}, {At: 1.9}},
		Received: [][]int64{{5, 5, 9, 9}, {5, 5, 1, 0}},
		Timeline: &timeline{events: []event{
			{At: 1.05, Backend: 0, Kind: evEject, Reason: lb.ConsecutiveFailures},
			{At: 1.06, Backend: 1, Kind: evEject, Reason: lb.SuccessRate},
			{At: 1.5, Backend: 1, Kind: evProbe},
			{At: 1.7, Backend: 1, Kind: evEject, Reason: lb.ConsecutiveFailures},
		}},
	}
	g := summarizeGray(r, 1)
	if g.Requests != 6 || g.ErrorRate != 2.0/6 || g.LateErrorRate != 1.0/4 {
		t.Errorf("requests %d, error rates %v and %v from 1 s; want 6, 1/3, 1/4", g.Requests, g.ErrorRate, g.LateErrorRate)
	}
	if g.LateShare != 1.0/19 {
		t.Errorf("gray share from 1 s %v, want 1/19", g.LateShare)
	}
	if g.Ejections != 2 || g.FirstEjection != 1.06 || len(g.Reasons) != 2 || g.Reasons[0] != lb.SuccessRate {
		t.Errorf("ejections %d, first at %v, reasons %v; want 2 of backend 1, at 1.06, success_rate first", g.Ejections, g.FirstEjection, g.Reasons)
	}
	r.Timeline = nil
	if g := summarizeGray(r, 1); g.Ejections != -1 {
		t.Errorf("a client without a pool: %d ejections, want -1", g.Ejections)
	}
	var table bytes.Buffer
	writeGrayTable(&table, []grayRow{summarizeGray(r, 1), {Label: "nanolb p2c", Ejections: 1, FirstEjection: 1.06, Reasons: []lb.EjectReason{lb.SuccessRate}}})
	if !strings.Contains(table.String(), "success_rate") || !strings.Contains(table.String(), "1.06") {
		t.Errorf("gray table:\n%s", table.String())
	}
}

// TestGrayBackendIsEjectedBySuccessRate runs the gray scenario for 3 s
// through P2C, round robin and the naive client, with no retries. Each
// pool must eject the gray backend for its success rate (and no other
// backend), and through its first cooldown send it nothing: the callers'
// errors in that stretch must be a small fraction of the naive client's.
// The targets of the demo's 10 s run (the gray backend's share, the error
// rate over the phase) depend on how the cooldowns grow; 3 s shows one.
func TestGrayBackendIsEjectedBySuccessRate(t *testing.T) {
	noLeak(t)
	sc, err := lookupScenario("gray")
	if err != nil {
		t.Fatal(err)
	}
	gray := sc.grayBackend()
	opts := options{Duration: 3 * time.Second, Concurrency: 16, MaxRequests: 100000, Buckets: 30, Poll: 20 * time.Millisecond}
	run := func(spec clientSpec) *phaseResult {
		r, err := runPhase(context.Background(), sc, spec, opts, func(float64) {})
		if err != nil {
			t.Fatal(err)
		}
		g := summarizeGray(r, gray)
		t.Logf("%s: %d requests, err %.2f%% (%.2f%% from 1 s), gray share from 1 s %.2f%%, %d ejections of gray, first at %.2f s, %v",
			g.Label, g.Requests, 100*g.ErrorRate, 100*g.LateErrorRate, 100*g.LateShare, g.Ejections, g.FirstEjection, g.Reasons)
		return r
	}
	naive := run(clientSpec{Kind: "naive"})
	if g := summarizeGray(naive, gray); g.ErrorRate < 0.01 || g.LateShare < 0.05 {
		t.Fatalf("the naive client's callers saw %.2f%% errors, the gray backend had %.1f%% of its requests: the script did not bite", 100*g.ErrorRate, 100*g.LateShare)
	}
	errorRate := func(r *phaseResult, from, to float64) (float64, int) {
		var n, errs int
		for _, s := range r.Samples {
			if s.At >= from && s.At < to {
				n++
				if s.Err {
					errs++
				}
			}
		}
		if n == 0 {
			return 0, 0
		}
		return float64(errs) / float64(n), n
	}
	for _, p := range []lb.Policy{lb.P2C, lb.RoundRobin} {
		r := run(clientSpec{Kind: "nanolb", Policy: p})
		g := summarizeGray(r, gray)
		for _, e := range r.Timeline.events {
			if e.Kind == evEject && e.Backend != gray {
				t.Errorf("%s ejected the healthy %s at %.2f s", g.Label, sc.Backends[e.Backend].Name, e.At)
			}
		}
		// The first evaluation with enough requests comes at 1 s; on a
		// loaded machine, at the next one.
		if g.Ejections == 0 || g.Reasons[0] != lb.SuccessRate || g.FirstEjection > 2.2 {
			t.Errorf("%s: %d ejections of the gray backend, the first at %.2f s for %v; want one for success_rate by 2.2 s",
				g.Label, g.Ejections, g.FirstEjection, g.Reasons)
			continue
		}
		// The first cooldown is 1 s less at most 10% jitter; the
		// timeline saw the ejection up to one poll late.
		from, to := g.FirstEjection+0.1, g.FirstEjection+0.8
		mine, n := errorRate(r, from, to)
		theirs, _ := errorRate(naive, from, to)
		if n < 100 || mine > theirs/5 {
			t.Errorf("%s: %.2f%% errors in %d requests from %.2f to %.2f s while the gray backend was out; the naive client %.2f%%: want at most a fifth",
				g.Label, 100*mine, n, from, to, 100*theirs)
		}
		if share := shareBetween(r, gray, from, to); share > 0.005 {
			t.Errorf("%s: the ejected gray backend got %.2f%% of the requests from %.2f to %.2f s", g.Label, 100*share, from, to)
		}
	}
}

// TestGrayTableHasARowPerClient runs the gray scenario briefly through
// every client: the gray table follows the results table, a row each.
func TestGrayTableHasARowPerClient(t *testing.T) {
	noLeak(t)
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-scenario", "gray", "-duration", "400ms", "-concurrency", "4", "-buckets", "8", "-out", t.TempDir() + "/report.html"}, &stdout, &stderr, false)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	i := strings.Index(out, "\ngray: ")
	if i < 0 {
		t.Fatalf("no gray table:\n%s", out)
	}
	clients, _ := parseClients([]string{"all"})
	for _, c := range clients {
		if strings.Count(out[i:], c.Label()+" ") != 1 {
			t.Errorf("the gray table has no row for %s:\n%s", c.Label(), out[i:])
		}
	}
}
