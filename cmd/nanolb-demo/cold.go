package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// coldBefore is how long a window before the join the cold table's "before"
// columns cover: from half a second into the phase, when every caller's
// connections are open.
const coldBefore = 1500 * time.Millisecond

// coldRow is one row of the cold table: the callers' latency in the second
// before a backend joins and while it is cold.
type coldRow struct {
	Label    string
	Requests int
	// Before and Cold are the latencies of the requests started in the
	// coldBefore before the join and in the cold period after it.
	BeforeP50, BeforeP99 time.Duration
	ColdP50, ColdP99     time.Duration
	// ColdShare is the joining backend's share of the requests the
	// backends received while it was cold.
	ColdShare float64
}

// Ratio is how many times the p99 before the join the cold period's is.
func (c coldRow) Ratio() float64 {
	if c.BeforeP99 <= 0 {
		return 0
	}
	return float64(c.ColdP99) / float64(c.BeforeP99)
}

// summarizeCold reduces a phase of a scenario in which backend b joins and
// is cold for a while to its cold row.
func summarizeCold(r *phaseResult, b int) coldRow {
	spec := r.Backends[b]
	join, cold := spec.Join.Seconds(), (spec.Join + spec.Cold).Seconds()
	before := latenciesBetween(r.Samples, join-coldBefore.Seconds(), join)
	during := latenciesBetween(r.Samples, join, cold)
	return coldRow{
		Label:     r.Spec.Label(),
		Requests:  len(r.Samples),
		BeforeP50: quantile(before, 0.5), BeforeP99: quantile(before, 0.99),
		ColdP50: quantile(during, 0.5), ColdP99: quantile(during, 0.99),
		ColdShare: shareBetween(r, b, join, cold),
	}
}

// latenciesBetween returns the latencies of the samples started within
// [from, to) seconds of the phase, sorted.
func latenciesBetween(samples []sample, from, to float64) []time.Duration {
	var out []time.Duration
	for _, s := range samples {
		if s.At >= from && s.At < to {
			out = append(out, s.Latency)
		}
	}
	slices.Sort(out)
	return out
}

// coldTarget is the cold period's p99 the demo aims for with slow start, as
// a multiple of the p99 before the join.
const coldTarget = 2.0

// writeColdTable prints the cold table: one row per client.
func writeColdTable(w io.Writer, rows []coldRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("client")
	for _, c := range rows {
		width = max(width, len(c.Label))
	}
	left := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	fmt.Fprintln(tw, strings.Join([]string{left("client"), "requests", "before p50 ms", "before p99 ms", "cold p50 ms", "cold p99 ms", "cold/before p99", fmt.Sprintf("≤ %g×", coldTarget), "new share cold %", ""}, "\t"))
	for _, c := range rows {
		ok := "no"
		if c.Ratio() <= coldTarget {
			ok = "yes"
		}
		fmt.Fprintln(tw, strings.Join([]string{
			left(c.Label), fmt.Sprint(c.Requests),
			ms(c.BeforeP50), ms(c.BeforeP99), ms(c.ColdP50), ms(c.ColdP99),
			fmt.Sprintf("%.1f", c.Ratio()), ok, fmt.Sprintf("%.2f", 100*c.ColdShare), "",
		}, "\t"))
	}
	tw.Flush()
}
