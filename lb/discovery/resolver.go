package discovery

import (
	"context"

	"github.com/nanolb/nanolb/lb"
)

// Resolver answers the question discovery asks: which endpoints make up the
// service now. Resolve returns the whole set, never a diff; an error means
// the answer is unknown, and the Runner keeps the last good set.
type Resolver interface {
	Resolve(ctx context.Context) ([]lb.Endpoint, error)
}

// ResolverFunc adapts a function to Resolver.
type ResolverFunc func(ctx context.Context) ([]lb.Endpoint, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context) ([]lb.Endpoint, error) { return f(ctx) }

// Watcher is a Resolver that can tell when its answer may have changed, so
// a Runner resolves at once instead of waiting for its next interval (an
// etcd watch, a file notification). Watch blocks until ctx ends or the
// watch fails, calling changed whenever the set may differ from the last
// Resolve; changed never blocks. A Runner restarts a failed Watch after its
// error backoff and keeps polling meanwhile.
type Watcher interface {
	Resolver
	Watch(ctx context.Context, changed func()) error
}
