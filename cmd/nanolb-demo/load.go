package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/lb"
	"github.com/nanolb/nanolb/lb/lbhttp"
)

// options are the demo's knobs, from its flags.
type options struct {
	Duration    time.Duration // per phase
	Concurrency int           // callers sending at once
	MaxRequests int           // per phase, a hard bound on the load
	Buckets     int           // time buckets per phase in the report
	Poll        time.Duration // timeline polling interval
}

// sample is one caller's request: when it started (seconds into the phase),
// how long the caller waited, retries included, and whether it failed.
type sample struct {
	At      float64
	Latency time.Duration
	Err     bool
}

// phaseResult is everything one client's phase produced.
type phaseResult struct {
	Spec     clientSpec
	Duration time.Duration
	Wall     time.Duration // the phase's real length, stragglers included
	Backends []backendSpec
	Samples  []sample
	Received [][]int64 // [backend][bucket] requests the backend received
	Failed   [][]int64 // [backend][bucket] of those, answered 500 or 503
	Timeline *timeline // nanolb only
	FirstErr string    // an example of what callers saw, for the table
	// Slow is the requests the backends drew to answer after their
	// SlowDelay, and SlowAnswered those they answered, not cancelled by
	// the client first.
	Slow, SlowAnswered int64
	// Hedges is the Transport's hedge counts, nil for a client that does
	// not hedge.
	Hedges *lbhttp.HedgeStats
	// InFlightAfter is the pool's leases not yet ended once the phase's
	// requests have returned (given a moment for cancelled hedges to end),
	// -1 for a client without a pool.
	InFlightAfter int64
	// Util is, per backend, its meter's samples on the phase's clock
	// (meterTick apart), nil for a backend without one.
	Util [][]meterSample
	// LoadReportErrors is the load reports the Transport could not read.
	LoadReportErrors uint64
}

// runPhase starts the scenario's backends afresh, sends a bounded load
// through the client of spec until the phase ends or opts.MaxRequests were
// sent, and collects what happened: a closed loop of opts.Concurrency
// callers, or the scenario's open-loop ramp.
// progress is called with the fraction done, from one goroutine.
func runPhase(ctx context.Context, sc scenario, spec clientSpec, opts options, progress func(float64)) (*phaseResult, error) {
	cl, err := startCluster(sc, opts.Duration, opts.Buckets)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	conns := opts.Concurrency
	if sc.Ramp != nil { // about the most requests in flight at once
		conns = max(conns, int(sc.Ramp.To*sc.Ramp.Deadline.Seconds()))
	}
	var initial []string
	for i, b := range cl.backends {
		if sc.Backends[i].Join == 0 {
			initial = append(initial, b.addr)
		}
	}
	c, err := newClient(spec, sc, initial, conns)
	if err != nil {
		return nil, err
	}
	defer c.close()

	end := cl.start.Add(opts.Duration)
	phaseCtx, cancel := context.WithDeadline(ctx, end)
	defer cancel()

	var tl *timeline
	var bg sync.WaitGroup
	var joinErr atomic.Pointer[error]
	for i, b := range cl.backends {
		if at := sc.Backends[i].Join; at > 0 {
			bg.Add(1)
			go func() {
				defer bg.Done()
				t := time.NewTimer(time.Until(cl.start.Add(at)))
				defer t.Stop()
				select {
				case <-t.C:
					if err := c.add(b.addr); err != nil {
						joinErr.CompareAndSwap(nil, &err)
					}
				case <-phaseCtx.Done():
				}
			}()
		}
	}
	if c.pool != nil {
		bg.Add(1)
		go func() {
			defer bg.Done()
			tl = pollTimeline(phaseCtx, c.pool, cl.addrs(), cl.start, opts.Poll)
		}()
	}
	bg.Add(1)
	go func() {
		defer bg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-phaseCtx.Done():
				progress(1)
				return
			case now := <-tick.C:
				progress(float64(now.Sub(cl.start)) / float64(opts.Duration))
			}
		}
	}()

	var firstErr atomic.Pointer[string]
	onErr := func(err error) {
		msg := err.Error()
		firstErr.CompareAndSwap(nil, &msg)
	}
	var samples []sample
	if sc.Ramp != nil {
		samples = openLoop(ctx, c, *sc.Ramp, cl.start, end, opts.MaxRequests, onErr)
	} else {
		samples = closedLoop(phaseCtx, c, cl.start, opts, onErr)
	}
	cancel()
	bg.Wait()
	if p := joinErr.Load(); p != nil {
		return nil, fmt.Errorf("nanolb-demo: %s joins: %w", spec.Label(), *p)
	}
	inFlight := int64(-1)
	if c.pool != nil {
		inFlight = settledInFlight(c.pool, time.Second)
	}

	r := &phaseResult{
		Spec:     spec,
		Duration: opts.Duration,
		Wall:     time.Since(cl.start),
		Backends: sc.Backends,
		Timeline: tl,
		Samples:  samples,

		InFlightAfter: inFlight,
	}
	if c.tr != nil && (spec.HedgeAfter != 0 || spec.HedgeExtraLoad != 0) {
		h := c.tr.HedgeStats()
		r.Hedges = &h
	}
	if p := firstErr.Load(); p != nil {
		r.FirstErr = *p
	}
	for _, b := range cl.backends {
		rec := make([]int64, opts.Buckets)
		fail := make([]int64, opts.Buckets)
		for i := range rec {
			rec[i] = b.received[i].Load()
			fail[i] = b.failed[i].Load()
		}
		r.Received = append(r.Received, rec)
		r.Failed = append(r.Failed, fail)
		r.Slow += b.slow.Load()
		r.SlowAnswered += b.slowDone.Load()
		r.Util = append(r.Util, cl.utilization(b))
	}
	if c.tr != nil {
		r.LoadReportErrors = c.tr.LoadReportErrors()
	}
	return r, ctx.Err()
}

// settledInFlight returns the leases of pool not yet ended, summed over
// its endpoints, once that is 0 or wait has passed: a hedge that lost
// ends its lease when its cancelled attempt returns, just after the
// request it lost.
func settledInFlight(pool *lb.Pool, wait time.Duration) int64 {
	deadline := time.Now().Add(wait)
	for {
		var n int64
		for _, e := range pool.Endpoints() {
			n += e.InFlight
		}
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedLoop sends requests through c from opts.Concurrency callers, each
// sending its next when the last ends, until phaseCtx ends or opts.MaxRequests
// were sent, and returns one sample per request.
func closedLoop(phaseCtx context.Context, c *liveClient, start time.Time, opts options, onErr func(error)) []sample {
	var sent atomic.Int64
	perWorker := make([][]sample, opts.Concurrency)
	var workers sync.WaitGroup
	for w := range opts.Concurrency {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for phaseCtx.Err() == nil && sent.Add(1) <= int64(opts.MaxRequests) {
				t0 := time.Now()
				// The request's own context outlives the phase's end, so
				// a request sent just before it is not cut short.
				err := c.do(context.WithoutCancel(phaseCtx))
				if err != nil {
					onErr(err)
				}
				perWorker[w] = append(perWorker[w], sample{
					At:      t0.Sub(start).Seconds(),
					Latency: time.Since(t0),
					Err:     err != nil,
				})
			}
		}()
	}
	workers.Wait()
	var out []sample
	for _, s := range perWorker {
		out = append(out, s...)
	}
	return out
}
