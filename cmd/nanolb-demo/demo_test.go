package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/internal/testkit"

	"github.com/nanolb/nanolb/lb"
)

// noLeak fails t if goroutines started during the test outlive it. It waits
// up to five seconds for them to end (connections closing, servers shutting
// down), then prints what is left.
func noLeak(t *testing.T) {
	t.Helper()
	testkit.NoGoroutinesLeft(t, 5*time.Second)
}

func TestFlagsOutOfRangeAreRejected(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want error
	}{
		{[]string{"-duration", "10ms"}, errFlag},
		{[]string{"-duration", "11m"}, errFlag},
		{[]string{"-concurrency", "0"}, errFlag},
		{[]string{"-concurrency", "5000"}, errFlag},
		{[]string{"-max-requests", "0"}, errFlag},
		{[]string{"-buckets", "2"}, errFlag},
		{[]string{"-poll", "0s"}, errFlag},
		{[]string{"-out", ""}, errFlag},
		{[]string{"-hedge-after", "0s"}, errFlag},
		{[]string{"-hedge-after", "11s"}, errFlag},
		{[]string{"-hedge-extra-load", "0"}, errFlag},
		{[]string{"-hedge-extra-load", "0.9"}, errFlag},
		{[]string{"extra"}, errFlag},
		{[]string{"-scenario", "nope"}, errScenario},
		{[]string{"-clients", "p2c,nope"}, errClient},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			if !errors.Is(err, tc.want) {
				t.Fatalf("parseFlags(%q) = %v, want an error wrapping %v", tc.args, err, tc.want)
			}
		})
	}
}

func TestDefaultFlagsRunEveryPolicyAndBothPeers(t *testing.T) {
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, s := range c.clients {
		labels = append(labels, s.Label())
	}
	got := strings.Join(labels, ",")
	want := "nanolb p2c,nanolb round_robin,nanolb least_loaded,nanolb weighted_round_robin,nanolb peak_ewma,nanolb random,nanolb consistent_hash,httplb,naive"
	if got != want {
		t.Fatalf("default clients %q, want %q", got, want)
	}
	if c.scenario.Name != "mixed" || c.out != "out/demo/report.html" {
		t.Fatalf("default scenario %q, out %q", c.scenario.Name, c.out)
	}
}

func TestScriptWindowsSayWhatABackendDoes(t *testing.T) {
	sc, err := lookupScenario("mixed")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]backendSpec{}
	for _, b := range sc.Backends {
		byName[b.Name] = b
	}
	for _, tc := range []struct {
		backend string
		at      float64
		want    faultKind
	}{
		{"fast", 0.5, 0},
		{"failing", 0.1, 0},
		{"failing", 0.2, faultFail},
		{"failing", 0.49, faultFail},
		{"failing", 0.5, 0},
		{"dying", 0.39, 0},
		{"dying", 0.4, faultDown},
		{"dying", 0.99, faultDown},
		{"flapping", 0.05, 0},
		{"flapping", 0.1, faultFail},
		{"flapping", 0.1 + 0.15*0.75, 0}, // second half of the first period
		{"flapping", 0.25, faultFail},
	} {
		if got := byName[tc.backend].kindAt(tc.at); got != tc.want {
			t.Errorf("%s at %.3f: %v, want %v", tc.backend, tc.at, got, tc.want)
		}
	}
}

func TestQuantileIsNearestRank(t *testing.T) {
	xs := make([]time.Duration, 1000)
	for i := range xs {
		xs[i] = time.Duration(i + 1)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500}, {0.99, 990}, {0.999, 999}, {1, 1000}, {0, 1}} {
		if got := quantile(xs, tc.q); got != tc.want {
			t.Errorf("quantile(1..1000, %v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %v", got)
	}
}

func TestTransitionsInferWhatHappenedBetweenPolls(t *testing.T) {
	t0 := time.Unix(100, 0)
	st := func(s lb.State, until time.Time) lb.EndpointStatus { return lb.EndpointStatus{State: s, Until: until} }
	for _, tc := range []struct {
		name     string
		was, is  lb.EndpointStatus
		expected []eventKind
	}{
		{"up stays up", st(lb.Up, time.Time{}), st(lb.Up, time.Time{}), nil},
		{"up to ejected is an ejection", st(lb.Up, time.Time{}), st(lb.Ejected, t0), []eventKind{evEject}},
		{"up to probing is an ejection and a probe", st(lb.Up, time.Time{}), st(lb.Probing, t0), []eventKind{evEject, evProbe}},
		{"ejected to probing is a probe", st(lb.Ejected, t0), st(lb.Probing, t0.Add(time.Second)), []eventKind{evProbe}},
		{"ejected to up is a probe that succeeded", st(lb.Ejected, t0), st(lb.Up, time.Time{}), []eventKind{evProbe, evReinstate}},
		{"ejected with a new cooldown is a probe that failed", st(lb.Ejected, t0), st(lb.Ejected, t0.Add(time.Second)), []eventKind{evProbe, evEject}},
		{"ejected unchanged is nothing", st(lb.Ejected, t0), st(lb.Ejected, t0), nil},
		{"probing to up is a reinstatement", st(lb.Probing, t0), st(lb.Up, time.Time{}), []eventKind{evReinstate}},
		{"probing to ejected is an ejection", st(lb.Probing, t0), st(lb.Ejected, t0.Add(time.Second)), []eventKind{evEject}},
		{"probing with a new window is a new probe", st(lb.Probing, t0), st(lb.Probing, t0.Add(time.Second)), []eventKind{evProbe}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []eventKind
			for _, e := range transitions(tc.was, tc.is, 3, 1.5) {
				if e.Backend != 3 || e.At != 1.5 {
					t.Errorf("event %+v: wrong backend or time", e)
				}
				got = append(got, e.Kind)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.expected) {
				t.Fatalf("got %v, want %v", got, tc.expected)
			}
		})
	}
}

// TestTimelineRecordsEjectionProbeAndReinstatement drives a real pool
// through an ejection, a probe and a reinstatement on synctest's clock while
// the poller watches.
func TestTimelineRecordsEjectionProbeAndReinstatement(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		addrs := []string{"10.0.0.1:80", "10.0.0.2:80"}
		pool, err := lb.New(lb.Config{EjectFor: 250 * time.Millisecond, NoJitter: true, MaxEjectedPercent: 50}, addrs...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan *timeline)
		go func() { got <- pollTimeline(ctx, pool, addrs, time.Now(), 50*time.Millisecond) }()

		time.Sleep(75 * time.Millisecond)
		for range lb.DefaultEjectAfter {
			l, err := pool.PickExcept(addrs[1])
			if err != nil || l.Endpoint() != addrs[0] {
				t.Fatalf("PickExcept(%s) = %q, %v", addrs[1], l.Endpoint(), err)
			}
			l.Done(errors.New("scripted failure"))
		}
		time.Sleep(300 * time.Millisecond) // past the cooldown: the next Pick probes
		probe, err := pool.Pick()
		if err != nil || !probe.Probe() || probe.Endpoint() != addrs[0] {
			t.Fatalf("Pick after the cooldown = %q probe=%v, %v; want a probe of %s", probe.Endpoint(), probe.Probe(), err, addrs[0])
		}
		time.Sleep(100 * time.Millisecond)
		probe.Done(nil)
		time.Sleep(100 * time.Millisecond)
		cancel()
		tl := <-got

		var seq []string
		for _, e := range tl.events {
			seq = append(seq, fmt.Sprintf("%d:%d@%.2f", e.Backend, e.Kind, e.At))
		}
		want := []string{"0:1@0.10", "0:2@0.40", "0:3@0.50"}
		if fmt.Sprint(seq) != fmt.Sprint(want) {
			t.Fatalf("events %v, want %v (backend:kind@seconds; 1 eject, 2 probe, 3 reinstate)", seq, want)
		}
		if tl.count(evEject) != 1 || tl.count(evProbe) != 1 || tl.count(evReinstate) != 1 {
			t.Fatalf("counts: %d ejections, %d probes, %d reinstatements", tl.count(evEject), tl.count(evProbe), tl.count(evReinstate))
		}
	})
}

func TestExternalRefFindsRemoteResources(t *testing.T) {
	for _, tc := range []struct {
		html string
		refs int
	}{
		{`<script src="https://cdn.example/plot.js"></script>`, 1},
		{`<link rel="stylesheet" href="http://x/y.css">`, 1},
		{`<div style="background: url(https://x/i.png)">`, 1},
		{`<img src=pic.png>`, 1},
		{`<a href="#phase-1">`, 0},
		{`<use xlink:href="#glyph"/><rect fill="url(#grad)"/>`, 0},
		{`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">`, 0},
	} {
		if got := len(externalRef.FindAllString(tc.html, -1)); got != tc.refs {
			t.Errorf("%s: %d references found, want %d", tc.html, got, tc.refs)
		}
	}
}

// TestNanolbRidesOutTheScriptTheNaiveClientDoesNot runs the mixed script
// for nanolb's P2C and for the naive client: the script must bite (the naive
// client's callers see errors), nanolb must keep its callers' errors an order
// of magnitude below the naive client's, and the timeline must record
// ejections and probes, never of a healthy backend, and no reinstatement of
// the dead one.
func TestNanolbRidesOutTheScriptTheNaiveClientDoesNot(t *testing.T) {
	noLeak(t)
	sc, err := lookupScenario("mixed")
	if err != nil {
		t.Fatal(err)
	}
	opts := options{Duration: 2 * time.Second, Concurrency: 8, MaxRequests: 50000, Buckets: 20, Poll: 20 * time.Millisecond}
	results := map[string]summary{}
	var p2c *phaseResult
	for _, spec := range []clientSpec{{Kind: "nanolb", Policy: lb.P2C}, {Kind: "naive"}} {
		r, err := runPhase(context.Background(), sc, spec, opts, func(float64) {})
		if err != nil {
			t.Fatal(err)
		}
		s := summarize(r)
		results[spec.Kind] = s
		t.Logf("%s: %d requests, %d errors (%.3f%%), %d ejections, %d probes, %d reinstatements",
			s.Label, s.Requests, s.Errors, 100*s.ErrorRate(), s.Ejections, s.Probes, s.Reinstatements)
		if s.Requests < 100 {
			t.Fatalf("%s sent only %d requests", s.Label, s.Requests)
		}
		if spec.Kind == "nanolb" {
			p2c = r
		}
	}
	naive, nano := results["naive"], results["nanolb"]
	if naive.ErrorRate() < 0.05 {
		t.Errorf("the naive client's callers saw %.2f%% errors: the script did not bite", 100*naive.ErrorRate())
	}
	if nano.ErrorRate() > naive.ErrorRate()/10 {
		t.Errorf("nanolb's callers saw %.2f%% errors, the naive client's %.2f%%: want at most a tenth", 100*nano.ErrorRate(), 100*naive.ErrorRate())
	}
	ejected := map[string]bool{}
	reinstatedLate := map[string]bool{}
	for _, e := range p2c.Timeline.events {
		name := sc.Backends[e.Backend].Name
		if e.Kind == evEject {
			ejected[name] = true
		}
		if e.Kind == evReinstate && e.At > 0.5*opts.Duration.Seconds() {
			reinstatedLate[name] = true
		}
	}
	// Which faulty backends P2C ejects depends on lb's policy (it also
	// steers away from a backend with a failure streak, which may keep it
	// below EjectAfter); that the timeline sees some, and never a healthy
	// one, does not.
	if nano.Ejections == 0 || nano.Probes == 0 {
		t.Errorf("the timeline recorded %d ejections and %d probes under the mixed script", nano.Ejections, nano.Probes)
	}
	for _, name := range []string{"fast", "slow"} {
		if ejected[name] {
			t.Errorf("nanolb ejected the healthy %s backend", name)
		}
	}
	if reinstatedLate["dying"] {
		t.Errorf("nanolb reinstated the dead backend")
	}
}

// TestEveryClientRunsAndTheReportDrawsThem runs a short phase of every
// client and renders the report without a browser: every client's row adds
// up and each has its three SVG plots.
func TestEveryClientRunsAndTheReportDrawsThem(t *testing.T) {
	noLeak(t)
	dir := t.TempDir()
	out := dir + "/report.html"
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"-duration", "400ms", "-concurrency", "4", "-buckets", "8", "-out", out}, &stdout, &stderr, false)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	table := stdout.String()
	clients, _ := parseClients([]string{"all"})
	for _, c := range clients {
		if !strings.Contains(table, c.Label()+" ") {
			t.Errorf("table has no row for %s:\n%s", c.Label(), table)
		}
		if !strings.Contains(stderr.String(), c.Label()) {
			t.Errorf("no progress line for %s", c.Label())
		}
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if n, want := strings.Count(string(page), `<figure class="plot"`), 3*len(clients)+2; n != want {
		t.Errorf("report has %d plots, want %d", n, want)
	}
	if n, want := strings.Count(string(page), "<svg"), 3*len(clients)+2; n != want {
		t.Errorf("report has %d SVG elements, want %d", n, want)
	}
}

func TestSummarizeSharesAddUp(t *testing.T) {
	r := &phaseResult{
		Spec:     clientSpec{Kind: "naive"},
		Samples:  []sample{{Latency: time.Millisecond}, {Latency: 3 * time.Millisecond, Err: true}, {Latency: 2 * time.Millisecond}},
		Received: [][]int64{{1, 2}, {0, 1}},
	}
	s := summarize(r)
	if s.Requests != 3 || s.Errors != 1 || s.P50 != 2*time.Millisecond || s.P99 != 3*time.Millisecond {
		t.Fatalf("summary %+v", s)
	}
	if s.Share[0] != 0.75 || s.Share[1] != 0.25 {
		t.Fatalf("shares %v, want [0.75 0.25]", s.Share)
	}
	if s.Ejections != -1 {
		t.Fatalf("a client without a pool reports ejections %d, want -1 (shown as a dash)", s.Ejections)
	}
}

func TestProgressBarIsPlainWithoutATerminal(t *testing.T) {
	var plain, tty bytes.Buffer
	for _, tc := range []struct {
		buf *bytes.Buffer
		tty bool
	}{{&plain, false}, {&tty, true}} {
		p := newProgressBar(tc.buf, tc.tty, 2, 9, "nanolb p2c")
		for _, f := range []float64{0.05, 0.26, 0.26, 0.5, 0.99} {
			p.update(f)
		}
		p.finish("10 requests, 0 errors")
	}
	if want := "[2/9] nanolb p2c                 .......... 10 requests, 0 errors\n"; plain.String() != want {
		t.Errorf("plain progress %q, want %q", plain.String(), want)
	}
	if strings.Contains(plain.String(), "\r") {
		t.Errorf("plain progress redraws with \\r")
	}
	redraws := strings.Count(tty.String(), "\r")
	if redraws != 6 || !strings.HasSuffix(tty.String(), "] 100% 10 requests, 0 errors\n") {
		t.Errorf("terminal progress: %d redraws (want 6: 0, 5, 26, 50, 99, 100%%), ends %q", redraws, tty.String()[max(0, tty.Len()-40):])
	}
}

func TestRampStartsRequestsAtTheOfferedRate(t *testing.T) {
	rp := ramp{From: 200, To: 600, Deadline: 300 * time.Millisecond}
	dur := 4 * time.Second
	if got := rp.arrival(0, dur); got != 0 {
		t.Errorf("the first request starts at %v, want 0", got)
	}
	n := 0
	for prev := time.Duration(-1); ; n++ {
		at := rp.arrival(n, dur)
		if at <= prev {
			t.Fatalf("request %d starts at %v, not after %v", n, at, prev)
		}
		prev = at
		if at >= dur {
			break
		}
	}
	if want := 1600; n < want-1 || n > want+1 { // (200+600)/2 a second for 4 s
		t.Errorf("%d requests start within the phase, want %d", n, want)
	}
	// The first second offers 200 to 300 a second: 250 requests.
	if at := rp.arrival(250, dur); at < 990*time.Millisecond || at > 1010*time.Millisecond {
		t.Errorf("request 250 starts at %v, want 1 s", at)
	}
	for _, tc := range []struct{ capacity, want float64 }{{400, 0.5}, {100, 0}, {700, 1}} {
		if got := rp.overloadedFrom(tc.capacity); got != tc.want {
			t.Errorf("overloadedFrom(%v) = %v, want %v", tc.capacity, got, tc.want)
		}
	}
	sc, err := lookupScenario("overload")
	if err != nil {
		t.Fatal(err)
	}
	if got := sc.capacity(); math.Abs(got-400) > 1e-9 {
		t.Errorf("the overload scenario's capacity is %v/s, want 400", got)
	}
}

func TestOverloadScenarioComparesTheSevenSetups(t *testing.T) {
	c, err := parseFlags([]string{"-scenario", "overload"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, s := range c.clients {
		labels = append(labels, s.Label())
	}
	want := "nanolb p2c,nanolb p2c limit 8 fail-fast,nanolb p2c limit 8 wait,nanolb p2c adaptive fail-fast,nanolb p2c adaptive wait,httplb,naive"
	if got := strings.Join(labels, ","); got != want {
		t.Fatalf("overload clients %q, want %q", got, want)
	}
	c, err = parseFlags([]string{"-scenario", "overload", "-clients", "p2c-wait,naive"}, io.Discard)
	if err != nil || len(c.clients) != 2 || !c.clients[0].Wait || c.clients[0].Limit != overloadLimit {
		t.Fatalf("-clients p2c-wait,naive: %+v, %v", c.clients, err)
	}
}

// runOverload runs the overload scenario's ramp over dur for each of specs
// and returns their goodput rows, logged.
func runOverload(t *testing.T, dur time.Duration, specs []clientSpec) []goodput {
	t.Helper()
	sc, err := lookupScenario("overload")
	if err != nil {
		t.Fatal(err)
	}
	opts := options{Duration: dur, Concurrency: 16, MaxRequests: 100000, Buckets: 8, Poll: 50 * time.Millisecond}
	capacity := sc.capacity()
	from := sc.Ramp.overloadedFrom(capacity) * dur.Seconds()
	var rows []goodput
	for _, spec := range specs {
		r, err := runPhase(context.Background(), sc, spec, opts, func(float64) {})
		if err != nil {
			t.Fatal(err)
		}
		g := summarizeGoodput(r, capacity, from)
		t.Logf("%s: %d requests, %d ok, %.0f/s, overloaded %.0f/s (%.0f%%), err %.1f%%, p50 %v, p99 %v",
			g.Label, g.Requests, g.OK, g.PerSecond, g.Overloaded, 100*g.Share(), 100*g.ErrorRate, g.P50, g.P99)
		rows = append(rows, g)
	}
	return rows
}

// TestOverloadRampRunsEverySetup runs the overload scenario briefly: every
// setup sends the ramp's requests, its goodput is between zero and a little
// over the backends' capacity, and successes come within the deadline.
func TestOverloadRampRunsEverySetup(t *testing.T) {
	noLeak(t)
	rows := runOverload(t, time.Second, overloadClients())
	const deadline = 300 * time.Millisecond
	for _, g := range rows {
		if want := 400; g.Requests < want-2 || g.Requests > want+2 { // (200+600)/2 a second for 1 s
			t.Errorf("%s: %d requests, want the ramp's %d", g.Label, g.Requests, want)
		}
		if g.OK == 0 || g.P50 <= 0 || g.P99 < g.P50 || g.P99 > deadline+100*time.Millisecond {
			t.Errorf("%s: %d successes, p50 %v, p99 %v; want some, within the %v deadline", g.Label, g.OK, g.P50, g.P99, deadline)
		}
		for name, v := range map[string]float64{"goodput": g.PerSecond, "overloaded goodput": g.Overloaded} {
			if math.IsNaN(v) || v < 0 || v > 1.1*g.Capacity {
				t.Errorf("%s: %s %.1f/s outside [0, %.0f]", g.Label, name, v, 1.1*g.Capacity)
			}
		}
		if g.ErrorRate < 0 || g.ErrorRate > 1 || g.OverErrorRate < 0 || g.OverErrorRate > 1 {
			t.Errorf("%s: error rates %v, %v", g.Label, g.ErrorRate, g.OverErrorRate)
		}
	}
	var table bytes.Buffer
	writeGoodputTable(&table, rows)
	for _, g := range rows {
		if !strings.Contains(table.String(), g.Label+" ") {
			t.Errorf("goodput table has no row for %s:\n%s", g.Label, table.String())
		}
	}
}

// TestOverloadLimitFailingFastKeepsGoodput runs the default 4 s ramp for
// P2C without a limit, with MaxConcurrency 8 and with an adaptive limit,
// both failing fast: once the offered load passes capacity, each limit must
// keep more goodput. (In a
// shorter ramp the servers' queues do not build enough to tell them apart.)
func TestOverloadLimitFailingFastKeepsGoodput(t *testing.T) {
	noLeak(t)
	rows := runOverload(t, 4*time.Second, []clientSpec{
		{Kind: "nanolb", Policy: lb.P2C},
		{Kind: "nanolb", Policy: lb.P2C, Limit: overloadLimit},
		{Kind: "nanolb", Policy: lb.P2C, Adaptive: true},
	})
	noLimit := rows[0]
	for _, g := range rows[1:] {
		if g.Overloaded <= noLimit.Overloaded {
			t.Errorf("overloaded goodput: %s %.0f/s, no limit %.0f/s; want the limit ahead", g.Label, g.Overloaded, noLimit.Overloaded)
		}
	}
}

func TestGoodputCountsSuccessesAsTheyComplete(t *testing.T) {
	ms := time.Millisecond
	r := &phaseResult{
		Spec:     clientSpec{Kind: "nanolb", Policy: lb.P2C, Limit: 8},
		Duration: 2 * time.Second,
		Samples: []sample{
			{At: 0.1, Latency: 80 * ms},             // before the overload
			{At: 0.95, Latency: 100 * ms},           // started before, completes within it
			{At: 1.2, Latency: 300 * ms, Err: true}, // an error within it
			{At: 1.5, Latency: 90 * ms},             // within it
			{At: 1.95, Latency: 200 * ms},           // completes after the phase: not goodput
			{At: 0.5, Latency: 120 * ms, Err: true}, // an error before it
		},
	}
	g := summarizeGoodput(r, 400, 1)
	if g.Label != "nanolb p2c limit 8 fail-fast" || g.Requests != 6 || g.OK != 4 {
		t.Fatalf("row %+v", g)
	}
	if g.PerSecond != 1.5 || g.Overloaded != 2 || g.Share() != 2.0/400 {
		t.Errorf("goodput %v/s, overloaded %v/s, share %v; want 1.5, 2, 0.005", g.PerSecond, g.Overloaded, g.Share())
	}
	if g.Worst != 2 { // one success completes in each half second from 1 s
		t.Errorf("worst window %v/s, want 2", g.Worst)
	}
	r.Samples = r.Samples[:2] // nothing completes after 1.05 s
	if g := summarizeGoodput(r, 400, 1); g.Worst != 0 {
		t.Errorf("worst window %v/s with an empty second half second, want 0", g.Worst)
	}
	if g.ErrorRate != 2.0/6 || g.OverErrorRate != 1.0/3 {
		t.Errorf("error rates %v, %v; want 1/3 of all, 1/3 of those started from 1 s", g.ErrorRate, g.OverErrorRate)
	}
	if g.P50 != 90*ms || g.P99 != 200*ms {
		t.Errorf("p50 %v, p99 %v of successes; want 90ms, 200ms", g.P50, g.P99)
	}
}
