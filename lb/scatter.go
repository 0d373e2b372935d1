package lb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Scatter-gather: a request that must reach every endpoint at once (an
// aggregate query over shards, a cache purge, a fan-out read), each call
// leased like any other request so in-flight counts and passive health stay
// true.

// PickAll leases every endpoint that is up, and as its probe every ejected
// one that is due, and appends the leases to dst in the pool's order. It
// skips endpoints cooling down or held by another probe, and never serves
// in panic mode. Every lease must be ended with Done, once. PickAll
// allocates nothing when dst has room for every endpoint, and reads the
// clock only when some endpoint is out.
func (p *Pool) PickAll(dst []Lease) []Lease {
	v := p.view.Load()
	now := int64(-1)
	for i, c := range v.cores {
		h := c.health.Load()
		switch stateOf(h) {
		case stateUp:
			if l, err := p.lease(c); err == nil { // nil only at a concurrency limit
				dst = append(dst, l)
			}
		case stateEjected, stateProbing:
			if now < 0 {
				now = p.now()
			}
			if deadlineOf(h) > now {
				continue
			}
			if l, err := p.probeNow(v, i, h, now); err == nil {
				dst = append(dst, l)
			}
		}
	}
	return dst
}

// Result is one endpoint's outcome in a Scatter.
type Result[T any] struct {
	Endpoint string
	Value    T     // what the call returned
	Err      error // the call's error, or why it was not made
}

// ScatterOptions changes how Scatter runs its calls. The zero value runs
// every call at once, cancels the others at the first error, and calls
// only the endpoints PickAll leases.
type ScatterOptions struct {
	// Limit is how many calls run at once; the others wait for a free
	// place, holding their leases. Zero means no limit; a negative Limit
	// is an error wrapping ErrConfig.
	Limit int
	// CollectAll runs every call to the end and joins every error,
	// instead of cancelling the other calls at the first error.
	CollectAll bool
	// Complete answers for every endpoint, for queries whose partial answer
	// would be wrong: one PickAll cannot lease gets a Result with
	// ErrShardDown, which counts as a failed call. On a Shard pool with a
	// Config.Shards layout the endpoints are the layout's shards, in order;
	// endpoints outside it are not called.
	Complete bool
}

// errScatterCancelled is the cause Scatter cancels its calls' context with
// after a call failed. It wraps context.Canceled, so leases ended with it
// are neutral.
var errScatterCancelled = fmt.Errorf("lb: scatter cancelled after a call failed: %w", context.Canceled)

// Scatter calls call once for each endpoint PickAll leases, concurrently,
// and returns one Result per endpoint in the pool's order and the calls'
// errors joined; each lease ends with its call's outcome. The first error
// cancels the other calls: their leases end neutrally, their errors stay
// out of the joined one, and a call not yet made holds the context's cause.
// With nothing to lease it is ErrNoEndpoint. A call that panics is not
// recovered.
func Scatter[T any](ctx context.Context, p *Pool, call func(ctx context.Context, endpoint string) (T, error), opts ScatterOptions) ([]Result[T], error) {
	o := opts
	if o.Limit < 0 {
		return nil, fmt.Errorf("%w: scatter limit %d is negative", ErrConfig, o.Limit)
	}
	var addrs []string // per Result with Complete: its endpoint
	if o.Complete {
		addrs = p.scatterAddrs() // before leasing: an endpoint added meanwhile is not called
	}
	leases := p.PickAll(make([]Lease, 0, p.Len()))
	targets := make([]*Lease, len(leases)) // per Result: its lease, nil for one down
	for i := range leases {
		targets[i] = &leases[i]
	}
	if o.Complete {
		targets = match(addrs, leases)
	}
	if len(targets) == 0 {
		return nil, ErrNoEndpoint
	}
	results := make([]Result[T], len(targets))
	failed := make([]bool, len(targets)) // errors to join
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var aborted atomic.Bool // set before the first error cancels cctx
	for i, l := range targets {
		if l == nil {
			results[i] = Result[T]{Endpoint: addrs[i], Err: ErrShardDown}
			failed[i] = true
			if !o.CollectAll && !aborted.Swap(true) {
				cancel(errScatterCancelled)
			}
		}
	}

	run := func(i int) {
		l := targets[i]
		if l == nil {
			return
		}
		r := &results[i]
		r.Endpoint = l.Endpoint()
		if cctx.Err() != nil { // cancelled before its turn: not made
			r.Err = context.Cause(cctx)
			failed[i] = !aborted.Load()
			l.Done(context.Canceled)
			return
		}
		r.Value, r.Err = call(cctx, r.Endpoint)
		switch {
		case r.Err == nil:
			l.Done(nil)
		case aborted.Load() && ctx.Err() == nil:
			l.Done(context.Canceled) // after a sibling's failure: the cancellation's
		default:
			failed[i] = true
			l.Done(r.Err)
			if !o.CollectAll && !aborted.Swap(true) {
				cancel(errScatterCancelled)
			}
		}
	}
	workers := len(targets)
	if o.Limit > 0 {
		workers = min(workers, o.Limit)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(targets) {
					return
				}
				run(i)
			}
		})
	}
	wg.Wait()

	var errs []error
	for i, r := range results {
		if failed[i] {
			errs = append(errs, fmt.Errorf("%s: %w", r.Endpoint, r.Err))
		}
	}
	return results, errors.Join(errs...)
}

// scatterAddrs are the endpoints ScatterOptions.Complete answers for: a Shard
// pool's layout, or else the pool's endpoints.
func (p *Pool) scatterAddrs() []string {
	if layout := p.cfg.shards; p.policy == Shard && layout != nil {
		return layout.addrs
	}
	cores := p.view.Load().cores
	addrs := make([]string, len(cores))
	for i, c := range cores {
		addrs[i] = *c.addr
	}
	return addrs
}

// match returns the lease of each of addrs, or nil for one without, and
// ends the leases on other endpoints neutrally.
func match(addrs []string, leases []Lease) []*Lease {
	byAddr := make(map[string]*Lease, len(leases))
	for i := range leases {
		byAddr[leases[i].Endpoint()] = &leases[i]
	}
	targets := make([]*Lease, len(addrs))
	for i, a := range addrs {
		targets[i] = byAddr[a]
		delete(byAddr, a)
	}
	for _, l := range byAddr { // outside the layout, or added meanwhile
		l.Done(context.Canceled)
	}
	return targets
}
