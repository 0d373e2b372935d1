package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// ramp is an open-loop load: requests start at an offered rate that rises
// linearly from From to To requests a second over the phase, however many
// are still in flight, and each caller gives up after Deadline. They
// start evenly spaced, or, if Poisson, as a Poisson process at that rate
// (exponential gaps, drawn from the same seed every phase).
type ramp struct {
	From, To float64
	Deadline time.Duration
	Poisson  bool
}

// poissonSeed seeds a Poisson ramp's gaps: every phase meets the same
// arrivals.
const poissonSeed = 32

// rateAt is the offered rate, requests a second, at fraction f of the phase.
func (r ramp) rateAt(f float64) float64 { return r.From + (r.To-r.From)*f }

// arrival returns when the i-th request (from 0) starts, from the phase's
// start: the time at which the offered rate's integral reaches i.
func (r ramp) arrival(i int, dur time.Duration) time.Duration {
	T := dur.Seconds()
	a := (r.To - r.From) / T // the rate's slope, per second per second
	var t float64
	if a == 0 {
		t = float64(i) / r.From
	} else {
		t = (-r.From + math.Sqrt(r.From*r.From+2*a*float64(i))) / a
	}
	return time.Duration(t * float64(time.Second))
}

// overloadedFrom returns the fraction of the phase from which the offered
// rate exceeds capacity: 1 if it never does, 0 if it always does.
func (r ramp) overloadedFrom(capacity float64) float64 {
	if r.To <= capacity {
		return 1
	}
	if r.From >= capacity {
		return 0
	}
	return (capacity - r.From) / (r.To - r.From)
}

// overloadLimit is the MaxConcurrency of the overload scenario's limited
// nanolb clients: each backend's own capacity.
const overloadLimit = 8

// overloadClients are the setups the overload scenario compares by default.
func overloadClients() []clientSpec {
	return []clientSpec{
		{Kind: "nanolb", Policy: lb.P2C},
		{Kind: "nanolb", Policy: lb.P2C, Limit: overloadLimit},
		{Kind: "nanolb", Policy: lb.P2C, Limit: overloadLimit, Wait: true},
		{Kind: "nanolb", Policy: lb.P2C, Adaptive: true},
		{Kind: "nanolb", Policy: lb.P2C, Adaptive: true, Wait: true},
		{Kind: "httplb"},
		{Kind: "naive"},
	}
}

// capacity is what a scenario's backends serve at most, requests a second
// (limit / service time, summed); +Inf if any backend has no limit.
func (sc scenario) capacity() float64 {
	var c float64
	for _, b := range sc.Backends {
		if b.Limit == 0 || b.Delay == 0 {
			return math.Inf(1)
		}
		c += float64(b.Limit) / b.Delay.Seconds()
	}
	return c
}

// openLoop starts requests through c at the times rp sets until end (or
// max requests, or ctx ends), each bounded by rp.Deadline, and returns one
// sample per request once every one has ended. A request the loop starts
// late, because the machine lags, still starts: the offered count is the
// ramp's.
func openLoop(ctx context.Context, c *liveClient, rp ramp, start, end time.Time, max int, onErr func(error)) []sample {
	var (
		mu  sync.Mutex
		out []sample
		wg  sync.WaitGroup
	)
	timer := time.NewTimer(0)
	defer timer.Stop()
	dur := end.Sub(start)
	var gaps *rand.Rand
	if rp.Poisson {
		gaps = rand.New(rand.NewPCG(poissonSeed, poissonSeed))
	}
	var t time.Duration // the last Poisson arrival
	for i := range max {
		at := start.Add(rp.arrival(i, dur))
		if gaps != nil {
			rate := rp.rateAt(float64(t) / float64(dur))
			t += time.Duration(gaps.ExpFloat64() / rate * float64(time.Second))
			at = start.Add(t)
		}
		if !at.Before(end) {
			break
		}
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			// The deadline is the caller's own: a request started just
			// before the phase ends runs to it.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rp.Deadline)
			err := c.do(rctx)
			cancel()
			if err != nil {
				onErr(err)
			}
			s := sample{At: t0.Sub(start).Seconds(), Latency: time.Since(t0), Err: err != nil}
			mu.Lock()
			out = append(out, s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// goodput is one row of the overload table.
type goodput struct {
	Label          string
	Requests, OK   int
	PerSecond      float64 // successes completed within the phase, a second
	Overloaded     float64 // the same, from OverloadedFrom to the phase's end
	Worst          float64 // the lowest goodput a second of any whole worstWindow in the overloaded part
	Capacity       float64 // requests a second the backends serve at most
	ErrorRate      float64 // of all requests
	OverErrorRate  float64 // of requests started from OverloadedFrom on
	P50, P99       time.Duration
	OverloadedFrom float64 // seconds into the phase: offered > capacity
}

// worstWindow is the window the worst goodput of an overloaded part is
// counted over: zero in any of them is a collapse, however brief.
const worstWindow = 0.5 // seconds

// Share is the overloaded part's goodput as a share of capacity.
func (g goodput) Share() float64 { return g.Overloaded / g.Capacity }

// summarizeGoodput reduces an open-loop phase to its goodput row. Goodput
// counts successes by when they complete, so it cannot outrun what the
// backends serve; from (seconds) starts the overloaded part. Latencies are
// of successes.
func summarizeGoodput(r *phaseResult, capacity, from float64) goodput {
	g := goodput{Label: r.Spec.Label(), Requests: len(r.Samples), Capacity: capacity, OverloadedFrom: from}
	T := r.Duration.Seconds()
	var lat []time.Duration
	var done, doneOver, over, overErr, errs int
	windows := make([]int, max(int((T-from)/worstWindow), 0))
	for _, s := range r.Samples {
		if s.At >= from {
			over++
			if s.Err {
				overErr++
			}
		}
		if s.Err {
			errs++
			continue
		}
		g.OK++
		lat = append(lat, s.Latency)
		if end := s.At + s.Latency.Seconds(); end <= T {
			done++
			if end >= from {
				doneOver++
				if i := int((end - from) / worstWindow); i < len(windows) {
					windows[i]++
				}
			}
		}
	}
	slices.Sort(lat)
	g.P50, g.P99 = quantile(lat, 0.5), quantile(lat, 0.99)
	g.PerSecond = float64(done) / T
	if T > from {
		g.Overloaded = float64(doneOver) / (T - from)
	}
	if len(windows) > 0 {
		g.Worst = float64(slices.Min(windows)) / worstWindow
	}
	if g.Requests > 0 {
		g.ErrorRate = float64(errs) / float64(g.Requests)
	}
	if over > 0 {
		g.OverErrorRate = float64(overErr) / float64(over)
	}
	return g
}

// writeGoodputTable prints the overload table: one row per client.
func writeGoodputTable(w io.Writer, rows []goodput) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	width := len("client")
	for _, g := range rows {
		width = max(width, len(g.Label))
	}
	left := func(s string) string { return fmt.Sprintf("%-*s", width, s) }
	fmt.Fprintln(tw, strings.Join([]string{left("client"), "requests", "ok", "goodput/s", "overloaded goodput/s", "of capacity %", "worst 0.5 s goodput/s", "err %", "overloaded err %", "ok p50 ms", "ok p99 ms", ""}, "\t"))
	for _, g := range rows {
		fmt.Fprintln(tw, strings.Join([]string{
			left(g.Label), fmt.Sprint(g.Requests), fmt.Sprint(g.OK),
			fmt.Sprintf("%.0f", g.PerSecond), fmt.Sprintf("%.0f", g.Overloaded),
			fmt.Sprintf("%.0f", 100*g.Share()), fmt.Sprintf("%.0f", g.Worst),
			fmt.Sprintf("%.1f", 100*g.ErrorRate), fmt.Sprintf("%.1f", 100*g.OverErrorRate),
			ms(g.P50), ms(g.P99), "",
		}, "\t"))
	}
	tw.Flush()
}
