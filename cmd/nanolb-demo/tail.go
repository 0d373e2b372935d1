package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
)

// The tail scenario's hedging settings (-hedge-after and -hedge-extra-load
// change them) and its phase length.
const (
	// tailHedgeAfter is the fixed hedge delay, and the percentile's
	// fallback until it is known: twice the backends' service time, past
	// what a healthy request takes on a busy machine and far below the
	// tail's 200 ms.
	tailHedgeAfter = 10 * time.Millisecond
	// tailHedgeExtraLoad hedges at the 99th percentile of first attempts.
	tailHedgeExtraLoad = 0.01
	// tailTargetGain and tailTargetExtra are issue 30's target for
	// hedging at the 99th percentile: a p99.9 at least 5 times below
	// P2C's without hedging, for at most 5% extra requests, and no
	// errors.
	tailTargetGain  = 5.0
	tailTargetExtra = 0.05
	// tailDuration gives each phase enough requests for a p99.9: about
	// 30,000 from the default 16 callers.
	tailDuration = 12 * time.Second
)

// tailClients are the setups the tail scenario compares by default: P2C
// without hedging, with a fixed hedge delay and at a latency percentile,
// httplb and naive.
func tailClients() []clientSpec {
	return []clientSpec{
		{Kind: "nanolb", Policy: lb.P2C},
		{Kind: "nanolb", Policy: lb.P2C, HedgeAfter: tailHedgeAfter},
		{Kind: "nanolb", Policy: lb.P2C, HedgeAfter: tailHedgeAfter, HedgeExtraLoad: tailHedgeExtraLoad},
		{Kind: "httplb"},
		{Kind: "naive"},
	}
}

// tailRow is one row of the tail table: the callers' latency, what the
// backends received to give it, and whether every lease ended.
type tailRow struct {
	Label          string
	Nanolb         bool
	Requests       int
	Errors         int
	P50, P99, P999 time.Duration
	// Attempts is the requests the backends received, retries and hedges
	// included.
	Attempts int64
	// Slow is the requests the backends drew to answer slowly (in the
	// tail scenario, the tail backend alone), SlowAnswered those they
	// answered (a hedge that won cancels the others), and SlowSeen the
	// callers' requests that took half the slow delay or more.
	Slow, SlowAnswered int64
	SlowSeen           int
	// Hedges is nil for a client without hedge counts.
	Hedges *lbhttp.HedgeStats
	// InFlight is the pool's leases not ended after the phase, -1 for a
	// client without a pool.
	InFlight int64
}

// Extra is the share of requests sent again: attempts on the wire past
// one per request.
func (t tailRow) Extra() float64 {
	if t.Requests == 0 {
		return 0
	}
	return float64(t.Attempts-int64(t.Requests)) / float64(t.Requests)
}

// summarizeTail reduces a phase of a scenario whose backend b answers some
// requests slowly to its tail row.
func summarizeTail(r *phaseResult, b int) tailRow {
	t := tailRow{Label: r.Spec.Label(), Nanolb: r.Spec.Kind == "nanolb", Requests: len(r.Samples), Slow: r.Slow, SlowAnswered: r.SlowAnswered, Hedges: r.Hedges, InFlight: r.InFlightAfter}
	slowAt := r.Backends[b].SlowDelay / 2
	lat := make([]time.Duration, len(r.Samples))
	for i, s := range r.Samples {
		lat[i] = s.Latency
		if s.Err {
			t.Errors++
		}
		if s.Latency >= slowAt {
			t.SlowSeen++
		}
	}
	slices.Sort(lat)
	t.P50, t.P99, t.P999 = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 0.999)
	for _, row := range r.Received {
		for _, n := range row {
			t.Attempts += n
		}
	}
	return t
}

// tailGains returns, for each row, how many times its p99.9 the first
// nanolb row without hedging has; 0 without such a row.
func tailGains(rows []tailRow) []float64 {
	gains := make([]float64, len(rows))
	for _, base := range rows {
		if !base.Nanolb || base.Hedges != nil {
			continue
		}
		for i, t := range rows {
			if t.P999 > 0 {
				gains[i] = float64(base.P999) / float64(t.P999)
			}
		}
		break
	}
	return gains
}

// writeTailTable prints the tail table: one row per client, with the
// p99.9 gain over P2C without hedging and, for a client that hedges,
// whether it met the target.
func writeTailTable(w io.Writer, slowAt time.Duration, rows []tailRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("client")
	for _, t := range rows {
		width = max(width, len(t.Label))
	}
	left := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	fmt.Fprintln(tw, strings.Join([]string{left("client"), "requests", "errors", "p50 ms", "p99 ms", "p99.9 ms", "p99.9 gain",
		"slow drawn", "slow answered", "callers ≥ " + ms(slowAt) + " ms", "extra %", "hedges sent", "won", "refused", "in flight after",
		fmt.Sprintf("≥ %g×, ≤ %g%%, no errors", tailTargetGain, 100*tailTargetExtra), ""}, "\t"))
	gains := tailGains(rows)
	for i, t := range rows {
		sent, won, refused, gain, target := "–", "–", "–", "–", "–"
		if h := t.Hedges; h != nil {
			sent, won, refused = fmt.Sprint(h.Sent), fmt.Sprint(h.Won), fmt.Sprint(h.Refused)
			target = "no"
			if gains[i] >= tailTargetGain && t.Extra() <= tailTargetExtra && t.Errors == 0 {
				target = "yes"
			}
		}
		if gains[i] > 0 {
			gain = fmt.Sprintf("%.1f×", gains[i])
		}
		fmt.Fprintln(tw, strings.Join([]string{
			left(t.Label), fmt.Sprint(t.Requests), fmt.Sprint(t.Errors),
			ms(t.P50), ms(t.P99), ms(t.P999), gain,
			fmt.Sprint(t.Slow), fmt.Sprint(t.SlowAnswered), fmt.Sprint(t.SlowSeen), fmt.Sprintf("%.2f", 100*t.Extra()),
			sent, won, refused, countOrDash(int(t.InFlight)), target, "",
		}, "\t"))
	}
	tw.Flush()
}
