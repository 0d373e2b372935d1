package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// quantile returns the q-quantile (0..1) of sorted by the nearest-rank
// method; 0 for no data.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// summary is one row of the results table.
type summary struct {
	Label          string
	Requests       int
	Errors         int
	P50, P99, P999 time.Duration
	Share          []float64 // per backend, of the requests backends received
	Ejections      int       // -1 when the client exposes none
	Probes         int
	Reinstatements int
}

// ErrorRate is the share of requests whose caller saw an error.
func (s summary) ErrorRate() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.Errors) / float64(s.Requests)
}

// summarize reduces a phase to its table row.
func summarize(r *phaseResult) summary {
	s := summary{Label: r.Spec.Label(), Requests: len(r.Samples), Ejections: -1, Probes: -1, Reinstatements: -1}
	lat := make([]time.Duration, len(r.Samples))
	for i, x := range r.Samples {
		lat[i] = x.Latency
		if x.Err {
			s.Errors++
		}
	}
	slices.Sort(lat)
	s.P50, s.P99, s.P999 = quantile(lat, 0.5), quantile(lat, 0.99), quantile(lat, 0.999)
	var total int64
	per := make([]int64, len(r.Received))
	for b, row := range r.Received {
		for _, n := range row {
			per[b] += n
		}
		total += per[b]
	}
	s.Share = make([]float64, len(per))
	for b, n := range per {
		if total > 0 {
			s.Share[b] = float64(n) / float64(total)
		}
	}
	if r.Timeline != nil {
		s.Ejections = r.Timeline.count(evEject)
		s.Probes = r.Timeline.count(evProbe)
		s.Reinstatements = r.Timeline.count(evReinstate)
	}
	return s
}

// ms formats d in milliseconds with a precision that suits it.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// countOrDash prints n, or a dash for a client that exposes no such count.
func countOrDash(n int) string {
	if n < 0 {
		return "–"
	}
	return fmt.Sprint(n)
}

// writeTable prints the compact results table: one row per client.
func writeTable(w io.Writer, backends []backendSpec, rows []summary) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	// Labels read better left-aligned: pad them to one width.
	width := len("client")
	for _, s := range rows {
		width = max(width, len(s.Label))
	}
	left := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	head := []string{left("client"), "requests", "errors", "err %", "p50 ms", "p99 ms", "p99.9 ms"}
	for _, b := range backends {
		head = append(head, b.Name+" %")
	}
	head = append(head, "ejections", "probes", "")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, s := range rows {
		cols := []string{
			left(s.Label), fmt.Sprint(s.Requests), fmt.Sprint(s.Errors),
			fmt.Sprintf("%.3f", 100*s.ErrorRate()),
			ms(s.P50), ms(s.P99), ms(s.P999),
		}
		for _, x := range s.Share {
			cols = append(cols, fmt.Sprintf("%.1f", 100*x))
		}
		cols = append(cols, countOrDash(s.Ejections), countOrDash(s.Probes), "")
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	tw.Flush()
}
