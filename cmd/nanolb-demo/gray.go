package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/nanolb/nanolb/lb"
)

// grayAfter is when, in seconds into the phase, the gray table's "after"
// columns start: outlier detection judges its first interval at 1 s.
const grayAfter = 1.0

// grayRow is one row of the gray table: how much of a backend that fails
// some requests at random reached callers.
type grayRow struct {
	Label     string
	Requests  int
	ErrorRate float64 // of all requests
	// LateErrorRate is the error rate of the requests started from
	// grayAfter on.
	LateErrorRate float64
	// LateShare is the gray backend's share of the requests the backends
	// received from grayAfter on.
	LateShare float64
	// Ejections counts the gray backend's ejections the timeline saw, -1
	// for a client without a pool; FirstEjection is when the first was
	// seen, in seconds (0 without one), and Reasons are their reasons.
	Ejections     int
	FirstEjection float64
	Reasons       []lb.EjectReason
}

// summarizeGray reduces a phase of a scenario whose backend gray fails at
// random to its gray row.
func summarizeGray(r *phaseResult, gray int) grayRow {
	g := grayRow{Label: r.Spec.Label(), Requests: len(r.Samples), Ejections: -1}
	var errs, late, lateErrs int
	for _, s := range r.Samples {
		if s.Err {
			errs++
		}
		if s.At >= grayAfter {
			late++
			if s.Err {
				lateErrs++
			}
		}
	}
	if g.Requests > 0 {
		g.ErrorRate = float64(errs) / float64(g.Requests)
	}
	if late > 0 {
		g.LateErrorRate = float64(lateErrs) / float64(late)
	}
	g.LateShare = shareBetween(r, gray, grayAfter, r.Duration.Seconds())
	if tl := r.Timeline; tl != nil {
		g.Ejections = 0
		for _, e := range tl.events {
			if e.Backend != gray || e.Kind != evEject {
				continue
			}
			if g.Ejections == 0 {
				g.FirstEjection = e.At
			}
			g.Ejections++
			if !slices.Contains(g.Reasons, e.Reason) {
				g.Reasons = append(g.Reasons, e.Reason)
			}
		}
	}
	return g
}

// shareBetween returns backend b's share of the requests the backends
// received in the time buckets that lie within [from, to) seconds of the
// phase; 0 if they received none.
func shareBetween(r *phaseResult, b int, from, to float64) float64 {
	if len(r.Received) == 0 {
		return 0
	}
	n := len(r.Received[0])
	width := r.Duration.Seconds() / float64(n)
	var mine, all int64
	for i := range n {
		start, end := float64(i)*width, float64(i+1)*width
		if start < from-1e-9 || end > to+1e-9 {
			continue
		}
		for j, row := range r.Received {
			all += row[i]
			if j == b {
				mine += row[i]
			}
		}
	}
	if all == 0 {
		return 0
	}
	return float64(mine) / float64(all)
}

// writeGrayTable prints the gray table: one row per client.
func writeGrayTable(w io.Writer, rows []grayRow) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("client")
	for _, g := range rows {
		width = max(width, len(g.Label))
	}
	left := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	fmt.Fprintln(tw, strings.Join([]string{left("client"), "requests", "err %", "err % from 1 s", "gray share from 1 s %", "gray ejections", "first at s", "why", ""}, "\t"))
	for _, g := range rows {
		first, why := "–", "–"
		if g.Ejections > 0 {
			first = fmt.Sprintf("%.2f", g.FirstEjection)
			var rs []string
			for _, r := range g.Reasons {
				rs = append(rs, r.String())
			}
			why = strings.Join(rs, "+")
		}
		fmt.Fprintln(tw, strings.Join([]string{
			left(g.Label), fmt.Sprint(g.Requests),
			fmt.Sprintf("%.2f", 100*g.ErrorRate), fmt.Sprintf("%.2f", 100*g.LateErrorRate),
			fmt.Sprintf("%.2f", 100*g.LateShare), countOrDash(g.Ejections), first, why, "",
		}, "\t"))
	}
	tw.Flush()
}
