package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// The capacity scenario: backends of 1×, 2× and 4× the work a second, each
// reporting its utilization, offered a steady open-loop load.
const (
	// capacityService is every request's service time, and capacityWorkers
	// the 1× backends' workers: 100 requests a second.
	capacityService = 20 * time.Millisecond
	capacityWorkers = 2
	// capacityLoad is the offered load's share of the backends' capacity
	// (1,400 requests a second in all).
	capacityLoad = 0.75
	// capacityDeadline is how long a caller waits before it gives up: the
	// demo's requestTimeout, past the longest wait in the small backends'
	// queues while the weights are in their blackout.
	capacityDeadline = requestTimeout
	// capacityDuration and capacityWarmup are a phase's length without
	// -duration and how much of it the capacity table skips: the weights'
	// blackout, and the backlog the smallest backends queued meanwhile.
	capacityDuration = 15 * time.Second
	capacityWarmup   = 6 * time.Second
	// capacityTarget is issue 32's bound on the busiest backend's
	// utilization over the mean under LoadWeights.
	capacityTarget = 1.1
)

// capacityRate is the capacity scenario's offered load, requests a second.
var capacityRate = capacityLoad * scenario{Backends: capacityBackends()}.capacity()

// capacityDescribe says what the capacity scenario runs.
var capacityDescribe = fmt.Sprintf("six backends, two each of 1×, 2× and 4× the capacity (%d, %d, %d workers of %v a request), each reporting its utilization; an open-loop Poisson load of %.0f requests a second, %.0f%% of their capacity, each caller giving up after %v; the capacity table from %v on",
	capacityWorkers, 2*capacityWorkers, 4*capacityWorkers, capacityService, capacityRate, 100*capacityLoad, capacityDeadline, capacityWarmup)

// demoLoadWeights weighs the load-weighted clients' backends by what they
// report: a blackout as long as the backends' report window, so that the
// first weight counted covers a full window, and an update four times a
// window, so that the weights follow each window closely.
var demoLoadWeights = lb.LoadWeights{Enabled: true, BlackoutPeriod: meterWindow, UpdatePeriod: meterWindow / 4}

// loadWeightsString writes w's fields for the capacity table's note.
func loadWeightsString(w lb.LoadWeights) string {
	return fmt.Sprintf("blackout %v, update every %v", w.BlackoutPeriod, w.UpdatePeriod)
}

// capacityBackends are the capacity scenario's backends: two each of 1×,
// 2× and 4× capacityWorkers workers, every request served in
// capacityService; the rest queue in the server.
func capacityBackends() []backendSpec {
	var bs []backendSpec
	for _, x := range []int{1, 2, 4} {
		for _, name := range []string{"a", "b"} {
			w := x * capacityWorkers
			bs = append(bs, backendSpec{
				Name:       fmt.Sprintf("%dx-%s", x, name),
				Role:       fmt.Sprintf("%d workers of %v a request (%.0f/s); the rest queue; reports its utilization", w, capacityService, float64(w)/capacityService.Seconds()),
				Delay:      capacityService,
				Limit:      w,
				Queue:      1 << 20,
				ReportLoad: true,
			})
		}
	}
	return bs
}

// capacityClients are the setups the capacity scenario compares by
// default: weighted round robin weighed by reported load, P2C, weighted
// round robin with its static equal weights, least loaded, httplb, naive.
func capacityClients() []clientSpec {
	return []clientSpec{
		{Kind: "nanolb", Policy: lb.WeightedRoundRobin, LoadWeights: true},
		{Kind: "nanolb", Policy: lb.P2C},
		{Kind: "nanolb", Policy: lb.WeightedRoundRobin},
		{Kind: "nanolb", Policy: lb.LeastLoaded},
		{Kind: "httplb"},
		{Kind: "naive"},
	}
}

// capacityRow is one row of the capacity table, counted from the warm-up
// to the phase's end.
type capacityRow struct {
	Label    string
	P2C      bool // nanolb P2C without more: the p99 the others are held to
	Requests int  // started after the warm-up
	Errors   int  // of those, failed as callers saw them
	P50, P99 time.Duration
	// Util is each backend's utilization as its server measured it: the
	// share of its workers busy.
	Util []float64
	// Share is each backend's share of the requests the backends received.
	Share []float64
	// LoadReportErrors is the reports the client could not read.
	LoadReportErrors uint64
}

// MaxMean is the busiest backend's utilization over the mean: 1 is
// perfectly even.
func (c capacityRow) MaxMean() float64 {
	var sum float64
	for _, u := range c.Util {
		sum += u
	}
	if sum == 0 {
		return 0
	}
	return slices.Max(c.Util) / (sum / float64(len(c.Util)))
}

// summarizeCapacity reduces a phase to its capacity row, from warmup on.
func summarizeCapacity(r *phaseResult, warmup time.Duration) capacityRow {
	c := capacityRow{Label: r.Spec.Label(), LoadReportErrors: r.LoadReportErrors,
		P2C: r.Spec == clientSpec{Kind: "nanolb", Policy: lb.P2C}}
	from, to := warmup.Seconds(), r.Duration.Seconds()
	var lat []time.Duration
	for _, s := range r.Samples {
		if s.At < from || s.At >= to {
			continue
		}
		c.Requests++
		if s.Err {
			c.Errors++
		}
		lat = append(lat, s.Latency)
	}
	slices.Sort(lat)
	c.P50, c.P99 = quantile(lat, 0.5), quantile(lat, 0.99)
	for b, spec := range r.Backends {
		var u float64
		if b < len(r.Util) {
			u = utilizationBetween(r.Util[b], spec.Limit, warmup, r.Duration)
		}
		c.Util = append(c.Util, u)
		c.Share = append(c.Share, shareBetween(r, b, from, to))
	}
	return c
}

// p99OverP2C returns, for each row, its p99 over the first P2C row's; 0
// without such a row.
func p99OverP2C(rows []capacityRow) []float64 {
	out := make([]float64, len(rows))
	for _, base := range rows {
		if !base.P2C || base.P99 <= 0 {
			continue
		}
		for i, c := range rows {
			out[i] = float64(c.P99) / float64(base.P99)
		}
		break
	}
	return out
}

// writeCapacityTable prints the capacity table: one row per client, each
// backend's utilization and share, and whether the client met issue 32's
// targets (max/mean ≤ capacityTarget, p99 no worse than P2C's).
func writeCapacityTable(w io.Writer, backends []backendSpec, rows []capacityRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("client")
	for _, c := range rows {
		width = max(width, len(c.Label))
	}
	left := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	head := []string{left("client"), "requests", "errors", "p50 ms", "p99 ms", "p99/P2C"}
	for _, b := range backends {
		head = append(head, b.Name+" util %")
	}
	head = append(head, "max/mean")
	for _, b := range backends {
		head = append(head, b.Name+" share %")
	}
	head = append(head, fmt.Sprintf("≤ %g, p99 ≤ P2C", capacityTarget), "")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	ratios := p99OverP2C(rows)
	for i, c := range rows {
		ratio, target := "–", "no"
		if ratios[i] > 0 {
			ratio = fmt.Sprintf("%.2f", ratios[i])
		}
		if c.MaxMean() <= capacityTarget && ratios[i] > 0 && ratios[i] <= 1 {
			target = "yes"
		}
		cols := []string{left(c.Label), fmt.Sprint(c.Requests), fmt.Sprint(c.Errors), ms(c.P50), ms(c.P99), ratio}
		for _, u := range c.Util {
			cols = append(cols, fmt.Sprintf("%.1f", 100*u))
		}
		cols = append(cols, fmt.Sprintf("%.3f", c.MaxMean()))
		for _, s := range c.Share {
			cols = append(cols, fmt.Sprintf("%.1f", 100*s))
		}
		cols = append(cols, target, "")
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}
