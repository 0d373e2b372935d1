package lb

import (
	"fmt"
	"iter"
	"slices"
	"sync"

	"github.com/puzpuzpuz/xsync/v3"
)

// Registry holds named pools. Its methods are safe for concurrent use and
// Get takes no lock, so a per-request Get(name) then Pick costs one map
// lookup more than the Pick.
type Registry struct {
	pools *xsync.MapOf[string, *Pool]

	// mu serialises creating and deleting pools with subscribing, so each
	// registry subscription is attached to exactly the pools in the map.
	mu   sync.Mutex
	subs []*Subscription
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{pools: xsync.NewMapOf[string, *Pool]()}
}

// Ensure returns the pool named name, creating it from cfg and addrs if it
// does not exist. An existing pool is returned as it is, whatever cfg and
// addrs say, so calling Ensure on every request never re-adds a removed
// endpoint; finding one takes no lock. Concurrent calls create one pool.
// An empty name, or a config or address list New rejects, is an error and
// stores nothing.
func (r *Registry) Ensure(name string, cfg Config, addrs ...string) (*Pool, error) {
	return r.EnsureWeighted(name, cfg, weightOne(addrs)...)
}

// EnsureWeighted is Ensure for endpoints with weights (see NewWeighted).
func (r *Registry) EnsureWeighted(name string, cfg Config, endpoints ...Endpoint) (*Pool, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty name", ErrName)
	}
	if p, ok := r.pools.Load(name); ok {
		return p, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pools.Load(name); ok {
		return p, nil
	}
	p, err := newWeighted(cfg, endpoints, func(p *Pool) {
		p.name = name
		for _, s := range r.subs { // before the endpoints join: they see each EventAdded
			s.attach(p)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	r.pools.Store(name, p)
	return p, nil
}

// Get returns the pool named name.
func (r *Registry) Get(name string) (*Pool, bool) { return r.pools.Load(name) }

// Delete forgets the pool named name, closes it (its PickWait callers get
// ErrClosed), ends the registry subscriptions' share of it, and reports
// whether there was one. Leases taken from it stay
// valid and are ended with Done as usual.
func (r *Registry) Delete(name string) bool {
	r.mu.Lock()
	p, ok := r.pools.LoadAndDelete(name)
	subs := slices.Clone(r.subs)
	r.mu.Unlock()
	if ok {
		p.Close()
		for _, s := range subs {
			s.drop(p) // its dispatcher ends with its registry subscribers
		}
	}
	return ok
}

// Len returns the number of pools.
func (r *Registry) Len() int { return r.pools.Size() }

// Subscribe returns a subscription to the events of every pool in the
// registry from now on, each naming its pool: existing endpoints are not
// reported (Snapshot lists them), but a pool created later reports its
// starting ones. SubscribeOptions apply per pool. Bad options are an error
// wrapping ErrConfig.
func (r *Registry) Subscribe(opts SubscribeOptions) (*Subscription, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	s := &Subscription{ch: make(chan Batch, 1), opts: o, reg: r}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs = append(r.subs, s)
	r.pools.Range(func(_ string, p *Pool) bool {
		s.attach(p)
		return true
	})
	return s, nil
}

func (r *Registry) unsubscribe(s *Subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, x := range r.subs {
		if x == s {
			r.subs = append(r.subs[:i], r.subs[i+1:]...)
			return
		}
	}
}

// All iterates over the registry's pools and their names, in no particular
// order, for use in a range loop. It does not block other methods, and the
// loop may call them, Delete included: a pool created or deleted during the
// loop may or may not be seen, and each name is seen at most once.
func (r *Registry) All() iter.Seq2[string, *Pool] {
	return func(yield func(string, *Pool) bool) {
		r.pools.Range(yield)
	}
}

// Snapshot returns every pool's endpoints (Pool.Endpoints) by pool name, in
// one call. Each pool's list is read as Endpoints reads it; pools created
// or deleted meanwhile may or may not be included.
func (r *Registry) Snapshot() map[string][]EndpointStatus {
	out := make(map[string][]EndpointStatus, r.pools.Size())
	r.pools.Range(func(name string, p *Pool) bool {
		out[name] = p.Endpoints()
		return true
	})
	return out
}
