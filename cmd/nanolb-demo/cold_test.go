package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/bufbuild/httplb/resolver"
	"github.com/nanolb/nanolb/lb"
)

func TestColdScenarioComparesSlowStart(t *testing.T) {
	c, err := parseFlags([]string{"-scenario", "cold"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, s := range c.clients {
		labels = append(labels, s.Label())
	}
	want := "nanolb p2c,nanolb p2c slow start 20s,1%,0.5,nanolb least_loaded,nanolb least_loaded slow start 20s,1%,0.5,httplb,naive"
	if got := strings.Join(labels, ","); got != want {
		t.Errorf("cold clients %q, want %q", got, want)
	}
	if c.opts.Duration != 5*time.Second {
		t.Errorf("cold's phase lasts %v without -duration, want 5s", c.opts.Duration)
	}
	b := c.scenario.joiningBackend()
	if b < 0 || c.scenario.Backends[b].delayAt(coldJoin) != 80*time.Millisecond {
		t.Fatalf("cold: joining backend %d", b)
	}
	spec := c.scenario.Backends[b]
	for _, tc := range []struct {
		at   time.Duration
		want time.Duration
	}{{0, 5 * time.Millisecond}, {coldJoin - 1, 5 * time.Millisecond}, {coldJoin, 80 * time.Millisecond},
		{coldJoin + coldFor - 1, 80 * time.Millisecond}, {coldJoin + coldFor, 5 * time.Millisecond}} {
		if got := spec.delayAt(tc.at); got != tc.want {
			t.Errorf("the new backend %v into the phase answers in %v, want %v", tc.at, got, tc.want)
		}
	}

	c, err = parseFlags([]string{"-scenario", "cold", "-slow-start", "30s,5%", "-clients", "p2c,p2c-slowstart"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ss := c.clients[1].SlowStart; len(c.clients) != 2 || c.clients[0].SlowStart.Window != 0 || ss != (lb.SlowStart{Window: 30 * time.Second, MinWeightPercent: 5}) {
		t.Errorf("-slow-start 30s,5%% -clients p2c,p2c-slowstart: %+v", c.clients)
	}
	if _, err := parseFlags([]string{"-scenario", "cold", "-duration", "3s"}, io.Discard); !errors.Is(err, errFlag) {
		t.Errorf("a cold phase shorter than its script: %v, want an error wrapping errFlag", err)
	}
}

func TestParseSlowStart(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want lb.SlowStart
		ok   bool
	}{
		{"20s", lb.SlowStart{Window: 20 * time.Second}, true},
		{"20s,1%", lb.SlowStart{Window: 20 * time.Second, MinWeightPercent: 1}, true},
		{"30s,5,0.5", lb.SlowStart{Window: 30 * time.Second, MinWeightPercent: 5, Aggression: 0.5}, true},
		{"", lb.SlowStart{}, false},
		{"-1s", lb.SlowStart{}, false},
		{"20s,0", lb.SlowStart{}, false},
		{"20s,101%", lb.SlowStart{}, false},
		{"20s,1,20", lb.SlowStart{}, false},
		{"20s,1,1,1", lb.SlowStart{}, false},
	} {
		got, err := parseSlowStart(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("parseSlowStart(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, errFlag) {
			t.Errorf("parseSlowStart(%q) = %+v, %v; want an error wrapping errFlag", tc.in, got, err)
		}
	}
	if got := slowStartString(lb.SlowStart{Window: 20 * time.Second}); got != "20s,10%,1" {
		t.Errorf("slowStartString fills in the defaults as %q, want 20s,10%%,1", got)
	}
}

func TestSummarizeColdSplitsAtTheJoin(t *testing.T) {
	ms := time.Millisecond
	r := &phaseResult{
		Spec:     clientSpec{Kind: "nanolb", Policy: lb.P2C, SlowStart: coldSlowStart},
		Duration: 5 * time.Second,
		Backends: coldBackends(),
		Received: make([][]int64, 6),
	}
	for b := range r.Received {
		r.Received[b] = make([]int64, 10) // half a second each
		for i := range r.Received[b] {
			r.Received[b][i] = 20
		}
	}
	r.Received[5] = []int64{0, 0, 0, 0, 1, 1, 3, 3, 20, 20} // joins at 2 s
	for i := range 100 {
		r.Samples = append(r.Samples,
			sample{At: 0.6 + float64(i)*0.01, Latency: 6 * ms}, // before
			sample{At: 2 + float64(i)*0.015, Latency: 6 * ms},  // cold
		)
	}
	r.Samples = append(r.Samples, sample{At: 0.2, Latency: 500 * ms}, // before the before window
		sample{At: 1.9, Latency: 12 * ms}, sample{At: 1.95, Latency: 12 * ms},
		sample{At: 3.9, Latency: 80 * ms}, sample{At: 3.95, Latency: 80 * ms}, sample{At: 4.2, Latency: 300 * ms})
	c := summarizeCold(r, 5)
	if c.BeforeP50 != 6*ms || c.BeforeP99 != 12*ms || c.ColdP50 != 6*ms || c.ColdP99 != 80*ms {
		t.Errorf("before p50 %v p99 %v, cold p50 %v p99 %v; want 6ms 12ms 6ms 80ms", c.BeforeP50, c.BeforeP99, c.ColdP50, c.ColdP99)
	}
	if c.Ratio() != 80.0/12 {
		t.Errorf("ratio %v, want 80/12", c.Ratio())
	}
	if c.ColdShare != 8.0/408 {
		t.Errorf("the new backend's share while cold %v, want 8/408", c.ColdShare)
	}
	var table bytes.Buffer
	writeColdTable(&table, []coldRow{c, {Label: "naive", BeforeP99: 10 * ms, ColdP99: 19 * ms}})
	lines := strings.Split(strings.TrimSpace(table.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], " no ") || !strings.Contains(lines[2], " yes ") {
		t.Errorf("cold table:\n%s", table.String())
	}
}

func TestListResolverReportsAnAddedAddress(t *testing.T) {
	r := &listResolver{addrs: []string{"127.0.0.1:1"}}
	var got [][]resolver.Address
	rcv := receiverFunc(func(as []resolver.Address) { got = append(got, as) })
	closer := r.New(context.Background(), "http", "backends", rcv, nil)
	if err := r.add("127.0.0.1:2"); err != nil {
		t.Fatal(err)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.add("127.0.0.1:3"); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0]) != 1 || len(got[1]) != 2 || got[1][1].HostPort != "127.0.0.1:2" {
		t.Fatalf("reports %v; want the first address, then both, then nothing after Close", got)
	}
}

// receiverFunc is a resolver.Receiver that hands addresses to a function.
type receiverFunc func([]resolver.Address)

func (f receiverFunc) OnResolve(as []resolver.Address) { f(as) }
func (f receiverFunc) OnResolveError(error)            {}

// TestSlowStartKeepsTheColdBackendOutOfTheTail runs a shortened cold
// script (the sixth backend joins at 1.5 s and answers in 80 ms for 1.5 s)
// through P2C without and with the demo's slow start. Without it, the new
// backend gets enough requests while cold to set the callers' p99; with
// it, a smaller share, and a p99 below that.
func TestSlowStartKeepsTheColdBackendOutOfTheTail(t *testing.T) {
	noLeak(t)
	sc, err := lookupScenario("cold")
	if err != nil {
		t.Fatal(err)
	}
	sc.Backends = coldBackends()
	b := sc.joiningBackend()
	sc.Backends[b].Join, sc.Backends[b].Cold = 1500*time.Millisecond, 1500*time.Millisecond
	opts := options{Duration: 3 * time.Second, Concurrency: 16, MaxRequests: 100000, Buckets: 30, Poll: 50 * time.Millisecond}
	var rows []coldRow
	for _, spec := range []clientSpec{{Kind: "nanolb", Policy: lb.P2C}, {Kind: "nanolb", Policy: lb.P2C, SlowStart: coldSlowStart}} {
		r, err := runPhase(context.Background(), sc, spec, opts, func(float64) {})
		if err != nil {
			t.Fatal(err)
		}
		c := summarizeCold(r, b)
		t.Logf("%s: %d requests; before p50 %v p99 %v; cold p50 %v p99 %v (%.1f×); the new backend's share while cold %.2f%%",
			c.Label, c.Requests, c.BeforeP50, c.BeforeP99, c.ColdP50, c.ColdP99, c.Ratio(), 100*c.ColdShare)
		rows = append(rows, c)
	}
	without, with := rows[0], rows[1]
	if without.ColdShare == 0 || without.ColdP99 < 60*time.Millisecond {
		t.Fatalf("without slow start the new backend had %.2f%% of the requests while cold and the p99 was %v: the script did not bite",
			100*without.ColdShare, without.ColdP99)
	}
	if with.ColdShare == 0 || with.ColdShare > without.ColdShare/2 {
		t.Errorf("the new backend's share while cold: %.2f%% with slow start, %.2f%% without; want at most half, above 0",
			100*with.ColdShare, 100*without.ColdShare)
	}
	if with.ColdP99 >= without.ColdP99 {
		t.Errorf("the cold period's p99: %v with slow start, %v without; want it lower", with.ColdP99, without.ColdP99)
	}
}
