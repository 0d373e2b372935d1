package lbhttp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/quantile"
	"github.com/nanolb/nanolb/lb"
)

// Hedging (Transport.HedgeAfter, Transport.HedgeExtraLoad): a request that
// may be retried (the same rule: an idempotent method or an
// Idempotency-Key, and a body that can be replayed) and has not answered
// within the hedge delay is sent again to an endpoint not yet tried, as
// "The Tail at Scale" and Finagle's backup requests do. The first attempt
// to answer with a success or a final outcome wins; the others are
// cancelled and their leases end as cancelled (neutral): a slow endpoint
// that lost a race has not failed. A failed attempt is retried as without
// hedging, on an endpoint not yet tried, while others may still be in
// flight. Every attempt past the first, hedge or retry, takes a token
// from the one retry budget, and MaxAttempts bounds them all.

// HedgeStats counts a Transport's hedges since it started.
type HedgeStats struct {
	// Sent is the hedges sent: attempts started because those in flight
	// had not answered within the hedge delay (some are cancelled before
	// they reach a server, when an earlier attempt answers first).
	Sent uint64
	// Won is the requests a hedge answered first.
	Won uint64
	// Refused is the requests that wanted a hedge the retry budget had no
	// token for (counted once per request, which then hedges no more).
	Refused uint64
}

// hedging is a Transport's hedging state; nil when hedging is off.
type hedging struct {
	after     time.Duration // the fixed delay, or the delay until the percentile is known; 0: none
	quantile  float64       // 1 − HedgeExtraLoad; 0 with a fixed delay only
	latencies latencies     // successful first attempts' latencies, with a percentile
	inFlight  int           // attempts of one request in flight at most

	sent, won, refused atomic.Uint64
}

// latencies is what hedging needs of a latency tracker.
type latencies interface {
	Record(time.Duration)
	Quantile(q float64) (time.Duration, bool)
}

// HedgeStats returns the Transport's hedge counts; zero with hedging off.
func (t *Transport) HedgeStats() HedgeStats {
	t.once.Do(t.init)
	h := t.hedge
	if h == nil {
		return HedgeStats{}
	}
	return HedgeStats{Sent: h.sent.Load(), Won: h.won.Load(), Refused: h.refused.Load()}
}

// delay is how long the attempts in flight get before a hedge: the
// percentile of recent latencies once known, else the fixed delay; false
// when there is neither yet.
func (h *hedging) delay() (time.Duration, bool) {
	if h.quantile > 0 {
		if d, ok := h.latencies.Quantile(h.quantile); ok {
			return d, true
		}
	}
	return h.after, h.after > 0
}

// flight is one attempt of a hedged request.
type flight struct {
	a       *attempt
	lease   lb.Lease
	cancel  context.CancelFunc
	hedge   bool      // started by the hedge timer
	start   time.Time // for the latency percentile
	resp    *http.Response
	err     error // the transport error
	outcome error // as classified
}

// roundTripHedged is RoundTrip for a hedgeable request whose first lease
// is held: attempts race as the top of this file describes.
func (t *Transport) roundTripHedged(req *http.Request, lease lb.Lease) (*http.Response, error) {
	h := t.hedge
	ctx := req.Context()
	done := make(chan *flight, t.max)
	tried := make([]string, 0, t.max)
	var live []*flight // attempts in flight
	attempts := 0
	launch := func(l lb.Lease, body io.ReadCloser, hedge bool) {
		actx, cancel := context.WithCancel(ctx)
		f := &flight{lease: l, cancel: cancel, hedge: hedge, start: time.Now()}
		f.a = newAttempt(req.WithContext(actx), l.Endpoint(), body)
		tried = append(tried, l.Endpoint())
		live = append(live, f)
		attempts++
		go func() {
			f.resp, f.err = t.base.RoundTrip(&f.a.req)
			t.reportLoad(l, f.resp)
			if t.throttle != nil {
				t.record(actx, f.resp, f.err)
			}
			f.outcome = t.classify(actx, f.resp, f.err)
			done <- f
		}()
	}
	// next is another attempt's lease, body and token (Transport.another),
	// while attempts remain and the request's context is live.
	next := func() (lb.Lease, io.ReadCloser, bool, bool) {
		if attempts >= t.max || ctx.Err() != nil {
			return lb.Lease{}, nil, false, false
		}
		return t.another(req, tried)
	}

	launch(lease, req.Body, false)
	var timer *time.Timer
	var fire <-chan time.Time
	arm := func() {
		fire = nil
		if d, ok := h.delay(); ok && len(live) < h.inFlight && attempts < t.max {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			fire = timer.C
		}
	}
	arm()
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var last *flight // the last failed attempt, returned if nothing better comes
	refused := false // the budget refused a hedge: the request hedges no more
	for {
		select {
		case f := <-done:
			live = slices.DeleteFunc(live, func(g *flight) bool { return g == f })
			final := f.outcome == nil || errors.Is(f.outcome, context.Canceled) || ctx.Err() != nil
			if final || len(live) == 0 {
				if !final && attempts < t.max {
					// Failed with nothing else in flight: retry at once, as
					// without hedging.
					if l, body, ok, _ := next(); ok {
						failed(last)
						last = f
						launch(l, body, false)
						arm()
						continue
					}
				}
				failed(last)
				return t.win(req, f, live, done)
			}
			failed(last)
			last = f // the others may still answer
			if fire == nil && !refused {
				arm() // its place may take a hedge
			}
		case <-fire:
			fire = nil
			l, body, ok, broke := next()
			switch {
			case ok:
				h.sent.Add(1)
				launch(l, body, true)
				arm()
			case broke:
				h.refused.Add(1) // once per request: no more hedges for it
				refused = true
			}
		}
	}
}

// win returns f's response as RoundTrip's, cancels the attempts still in
// flight (live), and leaves them to end as cancelled when they report on
// done.
func (t *Transport) win(req *http.Request, f *flight, live []*flight, done chan *flight) (*http.Response, error) {
	h := t.hedge
	if f.hedge && f.outcome == nil {
		h.won.Add(1)
	}
	if f.outcome == nil && h.quantile > 0 && !f.hedge {
		h.latencies.Record(time.Since(f.start))
	}
	for _, l := range live {
		l.cancel()
		if h.quantile > 0 && !l.hedge {
			h.latencies.Record(time.Since(l.start)) // a lower bound: it lost
		}
	}
	if n := len(live); n > 0 {
		go func() {
			for range n {
				l := <-done
				if l.resp != nil {
					discard(l.resp)
				}
				l.lease.Done(context.Canceled) // a loser: neither success nor failure
			}
		}()
	}
	resp, err := t.finish(req, f.a, f.lease, f.resp, f.err, f.outcome)
	if resp != nil {
		switch b := resp.Body.(type) {
		case *body:
			b.cancel = f.cancel // the winner's context lives until its body ends
			return resp, err
		case *rwBody:
			b.cancel = f.cancel
			return resp, err
		}
	}
	f.cancel()
	return resp, err
}

// failed ends an attempt that failed and will not be returned: its
// response is discarded and its lease ends with its outcome.
func failed(f *flight) {
	if f == nil {
		return
	}
	f.cancel()
	if f.resp != nil {
		discard(f.resp)
	}
	f.lease.Done(f.outcome)
}

// resolveHedging checks the hedging fields, after MaxAttempts, and sets up
// t.hedge when they ask for it.
func (t *Transport) resolveHedging() error {
	switch {
	case t.HedgeAfter < 0 || t.HedgeAfter > time.Hour || (t.HedgeAfter > 0 && t.HedgeAfter < time.Microsecond):
		return fmt.Errorf("lbhttp: HedgeAfter %v out of range [1µs, 1h] (0: none): %w", t.HedgeAfter, lb.ErrConfig)
	case t.HedgeExtraLoad != 0 && !(t.HedgeExtraLoad >= 0.001 && t.HedgeExtraLoad <= 0.5):
		return fmt.Errorf("lbhttp: HedgeExtraLoad %v out of range [0.001, 0.5] (0: none): %w", t.HedgeExtraLoad, lb.ErrConfig)
	case t.HedgeAfter == 0 && t.HedgeExtraLoad == 0:
		if t.MaxHedges != 0 {
			return fmt.Errorf("lbhttp: MaxHedges is set but hedging is off (no HedgeAfter or HedgeExtraLoad): %w", lb.ErrConfig)
		}
		return nil
	case t.max < 2:
		return fmt.Errorf("lbhttp: hedging needs MaxAttempts of 2 or more, not %d: %w", t.max, lb.ErrConfig)
	}
	h := &hedging{after: t.HedgeAfter, inFlight: t.MaxHedges}
	switch {
	case h.inFlight == 0:
		h.inFlight = min(2, t.max)
	case h.inFlight < 2 || h.inFlight > t.max:
		return fmt.Errorf("lbhttp: MaxHedges %d out of range [2, MaxAttempts %d]: %w", t.MaxHedges, t.max, lb.ErrConfig)
	}
	if t.HedgeExtraLoad != 0 {
		h.quantile = 1 - t.HedgeExtraLoad
		hist, err := quantile.New(quantile.Options{})
		if err != nil {
			return fmt.Errorf("lbhttp: hedging's latency histogram: %w", err)
		}
		h.latencies = hist
	}
	t.hedge = h
	return nil
}
