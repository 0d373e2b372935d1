package lbgrpc

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// fallbackTries bounds how many endpoints a pick skips because this picker
// has no child for them (the pool's membership is a step ahead of the
// picker gRPC still holds) before it waits for the next picker.
const fallbackTries = 3

// picker leases an endpoint from the pool and sends the RPC to that
// endpoint's READY child. It never blocks: a pick that cannot be served
// now returns balancer.ErrNoSubConnAvailable (gRPC retries with the next
// picker) or a status error.
type picker struct {
	pool     *lb.Pool
	children map[string]balancer.Picker // pool address -> the READY child's picker
	classify Classifier
	hashed   bool // the policy routes by WithHashKey's key
	strict   bool // lb.Shard: a key never goes to another endpoint, so no fallback
	// layout and shards are nanolb_shard's: shard i's address and its
	// child's state, READY or not (a zero State for a shard with no child
	// yet).
	layout []string
	shards []balancer.State
	// loads: each RPC's ORCA report feeds its lease (LoadWeightsConfig's
	// perCall); testHookLoad sees each report then.
	loads        bool
	testHookLoad func(addr string, load lb.Load)
}

func newPicker(pool *lb.Pool, children map[string]balancer.Picker, b *builder) *picker {
	return &picker{pool: pool, children: children, classify: b.classify,
		hashed: b.policy == lb.ConsistentHash || b.policy == lb.Shard, strict: b.policy == lb.Shard}
}

// withLoadReports has p's RPCs report their ORCA loads to their leases.
func (p *picker) withLoadReports(on bool, hook func(addr string, load lb.Load)) *picker {
	p.loads, p.testHookLoad = on, hook
	return p
}

// withShards sets nanolb_shard's layout and its children's states.
func (p *picker) withShards(layout []string, shards []balancer.State) *picker {
	p.layout, p.shards = layout, shards
	return p
}

func (p *picker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	key, keyed := p.hashKey(info.Ctx)
	route := routeOf(info.Ctx) // nil unless the RPC is a Hedger's attempt
	var lease lb.Lease
	var err error
	switch {
	case keyed && (p.strict || route == nil || len(route.tried) == 0):
		lease, err = p.pool.PickKey(key)
	case route != nil:
		// A hedge, or an attempt after a failure: an endpoint the RPC
		// has not tried while there is one.
		lease, err = p.pool.PickExcept(route.tried...)
	default:
		lease, err = p.pool.Pick()
	}
	if err != nil {
		if errors.Is(err, lb.ErrSaturated) {
			return balancer.PickResult{}, errSaturated
		}
		if p.pool.Len() == 0 {
			// Every child left READY after this picker was made; the
			// picker that says so is on its way.
			return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
		}
		if keyed && p.strict && len(p.shards) > 0 {
			return balancer.PickResult{}, p.shardDown(key, info)
		}
		// Every endpoint is ejected and none is due for a probe (possible
		// only at MaxEjectedPercent 100): fail rather than queue, since no
		// new picker comes when a cooldown ends.
		return balancer.PickResult{}, status.Error(codes.Unavailable, err.Error())
	}
	child, ok := p.children[lease.Endpoint()]
	if !ok {
		if p.strict { // the shard's child is not READY: wait for the next picker
			lease.Done(context.Canceled)
			return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
		}
		var except []string
		if route != nil {
			except = route.tried
		}
		if child, ok = p.fallback(&lease, except); !ok {
			return balancer.PickResult{}, balancer.ErrNoSubConnAvailable
		}
	}
	res, err := child.Pick(info)
	if err != nil {
		lease.Done(context.Canceled)
		return res, err
	}
	res.Done = p.done(lease, res.Done, info.Ctx)
	if route != nil {
		route.picked(lease.Endpoint())
	}
	return res, nil
}

// hashKey returns the RPC's WithHashKey key if the policy routes by it.
func (p *picker) hashKey(ctx context.Context) (string, bool) {
	if p.hashed && ctx != nil {
		key, ok := ctx.Value(hashKey{}).(string)
		return key, ok
	}
	return "", false
}

// shardDown answers a key whose shard the pool refused, by the state of
// the shard's child. READY: lb ejected it, so Unavailable as a status,
// which ends even a wait-for-ready RPC, since no new picker comes when the
// cooldown ends. TRANSIENT_FAILURE: its connection is down, so an error
// that gRPC turns into Unavailable for an RPC without wait-for-ready and
// holds a wait-for-ready one for the next picker, as for a channel in
// TRANSIENT_FAILURE. Connecting, idle or without a child yet: wait for
// the next picker, which the child's next state brings.
func (p *picker) shardDown(key string, info balancer.PickInfo) error {
	s := shardOf(key, len(p.shards))
	switch st := p.shards[s]; st.ConnectivityState {
	case connectivity.Ready:
		return status.Errorf(codes.Unavailable, "%v: %s is ejected", lb.ErrShardDown, p.layout[s])
	case connectivity.TransientFailure:
		cause := errors.New("no connection")
		if st.Picker != nil {
			if _, err := st.Picker.Pick(info); err != nil { // pick_first's error picker
				cause = err
			}
		}
		return fmt.Errorf("%w: %s: %v", lb.ErrShardDown, p.layout[s], cause)
	}
	return balancer.ErrNoSubConnAvailable
}

// fallback replaces *lease, whose endpoint this picker has no child for,
// with a lease on an endpoint it has, asking the pool to avoid the ones
// already refused and those in except (a hedged RPC's earlier attempts').
// It reports false, holding no lease, when it finds none (the pool
// saturated included: the endpoint without a child has room, and the
// picker that has its child is on its way).
func (p *picker) fallback(lease *lb.Lease, except []string) (balancer.Picker, bool) {
	var buf [fallbackTries]string
	tried := buf[:0]
	if len(except) > 0 {
		tried = append(make([]string, 0, len(except)+fallbackTries), except...)
	}
	for range fallbackTries {
		tried = append(tried, lease.Endpoint())
		lease.Done(context.Canceled) // never used: neutral
		l, err := p.pool.PickExcept(tried...)
		if err != nil {
			return nil, false
		}
		*lease = l
		if child, ok := p.children[lease.Endpoint()]; ok {
			return child, true
		}
	}
	lease.Done(context.Canceled)
	return nil, false
}

// errSaturated fails an RPC that finds every endpoint at
// Config.MaxConcurrency: Unavailable, as grpc-go's xDS circuit breaker
// (max_requests, gRFC A32) fails one, and as a status error, so gRPC ends
// the RPC at once even with wait-for-ready instead of holding it for a
// picker that no freed slot would bring. Made once: a refused pick
// allocates nothing.
var errSaturated = status.Error(codes.Unavailable, "nanolb: every endpoint is at maxConcurrency")

// done returns the PickResult.Done that ends lease with the classifier's
// verdict and then calls the child's own Done, if any. gRPC calls it once
// when the RPC ends (for a stream: when the stream ends), or with an empty
// DoneInfo when it drops the pick unused. ctx is the RPC's: a failure
// verdict on an RPC whose caller cancelled it is neutral, since the
// caller, not the endpoint, ended it.
func (p *picker) done(lease lb.Lease, inner func(balancer.DoneInfo), ctx context.Context) func(balancer.DoneInfo) {
	r, _ := rpcLeases.Get().(*rpcLease)
	if r == nil {
		r = new(rpcLease)
		r.end = r.done
	}
	r.lease, r.classify, r.inner, r.ctx = lease, p.classify, inner, ctx
	r.loads, r.testHookLoad = p.loads, p.testHookLoad
	return r.end
}

// rpcLease carries one RPC's lease from Pick to Done. Holders are reused
// through rpcLeases, each with its Done function made once, so a pick
// allocates nothing (a closure per pick would be one allocation, two when
// it holds the lease by reference). Reuse relies on gRPC's contract that
// it calls a PickResult's Done at most once: done returns the holder to the
// pool before it ends the lease.
type rpcLease struct {
	lease    lb.Lease
	classify Classifier
	inner    func(balancer.DoneInfo)
	ctx      context.Context         // the RPC's
	end      func(balancer.DoneInfo) // r.done, bound once
	// loads and testHookLoad are the picker's.
	loads        bool
	testHookLoad func(addr string, load lb.Load)
}

var rpcLeases sync.Pool

func (r *rpcLease) done(info balancer.DoneInfo) {
	lease, classify, inner, ctx := r.lease, r.classify, r.inner, r.ctx
	loads, hook := r.loads, r.testHookLoad
	*r = rpcLease{end: r.end}
	rpcLeases.Put(r)
	if loads && info.ServerLoad != nil {
		reportCallLoad(lease, info, hook)
	}
	outcome := classify(info)
	if outcome != nil && ctx != nil && errors.Is(ctx.Err(), context.Canceled) {
		outcome = context.Canceled // the caller gave up, whatever the classifier says
	}
	lease.Done(outcome)
	if inner != nil {
		inner(info)
	}
}

// hashKey keys an RPC's consistent-hash key in its context.
type hashKey struct{}

// WithHashKey returns a context whose RPCs nanolb_consistent_hash and
// nanolb_shard route by key: to one endpoint while membership and load
// allow, or strictly to the key's shard (see Keys in the package
// documentation). RPCs without a key go to a random endpoint; other
// policies ignore the key.
func WithHashKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, hashKey{}, key)
}
