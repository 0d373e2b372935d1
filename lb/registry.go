package lb

import (
	"fmt"
	"iter"

	"github.com/puzpuzpuz/xsync/v3"
)

// Registry holds named pools. Its methods are safe for concurrent use and
// lock-free on the read side, so Registry.Pick may be called per request.
type Registry struct {
	pools *xsync.MapOf[string, *Pool]
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{pools: xsync.NewMapOf[string, *Pool]()}
}

// Ensure returns the pool named name, creating it from cfg and addrs if it
// does not exist. It is create-once: an existing pool is returned as it is,
// whatever cfg and addrs say, so calling Ensure lazily on every request
// never re-adds an endpoint that was removed or changes a config.
// Concurrent Ensure calls for one name create one pool. An empty name, or
// a config or address list New rejects, is an error and stores nothing.
func (r *Registry) Ensure(name string, cfg Config, addrs ...string) (*Pool, error) {
	return r.EnsureEndpoints(name, cfg, weightOne(addrs)...)
}

// EnsureEndpoints is Ensure for endpoints with weights (see NewWeighted).
func (r *Registry) EnsureEndpoints(name string, cfg Config, endpoints ...Endpoint) (*Pool, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty name", ErrName)
	}
	if p, ok := r.pools.Load(name); ok {
		return p, nil
	}
	var err error
	p, _ := r.pools.Compute(name, func(old *Pool, loaded bool) (*Pool, bool) {
		if loaded {
			return old, false
		}
		var created *Pool
		created, err = NewWeighted(cfg, endpoints...)
		return created, err != nil // on error, store nothing
	})
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	return p, nil
}

// Get returns the pool named name.
func (r *Registry) Get(name string) (*Pool, bool) { return r.pools.Load(name) }

// Pick leases an endpoint from the pool named name. It returns ErrNoPool if
// there is none, and otherwise what that pool's Pick returns.
func (r *Registry) Pick(name string) (Lease, error) {
	p, ok := r.pools.Load(name)
	if !ok {
		return Lease{}, ErrNoPool
	}
	return p.Pick()
}

// PickKey is Pool.PickKey on the pool named name, or ErrNoPool.
func (r *Registry) PickKey(name, key string) (Lease, error) {
	p, ok := r.pools.Load(name)
	if !ok {
		return Lease{}, ErrNoPool
	}
	return p.PickKey(key)
}

// PickKeyUint64 is Pool.PickKeyUint64 on the pool named name, or
// ErrNoPool.
func (r *Registry) PickKeyUint64(name string, key uint64) (Lease, error) {
	p, ok := r.pools.Load(name)
	if !ok {
		return Lease{}, ErrNoPool
	}
	return p.PickKeyUint64(key)
}

// PickExcept is Pool.PickExcept on the pool named name, or ErrNoPool.
func (r *Registry) PickExcept(name string, tried ...string) (Lease, error) {
	p, ok := r.pools.Load(name)
	if !ok {
		return Lease{}, ErrNoPool
	}
	return p.PickExcept(tried...)
}

// Delete forgets the pool named name and reports whether there was one.
// Leases taken from it stay valid and are ended with Done as usual.
func (r *Registry) Delete(name string) bool {
	_, ok := r.pools.LoadAndDelete(name)
	return ok
}

// Len returns the number of pools.
func (r *Registry) Len() int { return r.pools.Size() }

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
