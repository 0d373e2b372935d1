package discovery

import (
	"context"

	"github.com/nanolb/nanolb/lb"
)

// Resolver answers the question discovery asks: which endpoints make up the
// service now. Resolve returns the whole set, never a diff and never part of
// one; an error means the answer is unknown, and the Runner keeps the last
// good set. An empty set with a nil error is an answer ("no endpoints"),
// which a Runner applies only with Config.AllowEmpty. Resolve must return
// soon after ctx is done (the Runner bounds each call by Config.Timeout and
// cancels it on Close). The Runner calls Resolve from one goroutine at a
// time and may keep the returned slice.
type Resolver interface {
	Resolve(ctx context.Context) ([]lb.Endpoint, error)
}

// ResolverFunc adapts a function to Resolver, for a lookup of one's own
// (a registry's API, a configuration service).
type ResolverFunc func(ctx context.Context) ([]lb.Endpoint, error)

// Resolve calls f.
func (f ResolverFunc) Resolve(ctx context.Context) ([]lb.Endpoint, error) { return f(ctx) }

// Watcher is a Resolver that can tell when its answer may have changed, so
// a Runner resolves at once instead of waiting for its next interval (an
// etcd watch, a file notification). Watch blocks until ctx ends or the
// watch fails, calling changed whenever the set may differ from the last
// Resolve; changed never blocks, and calls that come while a resolve runs
// fold into one more resolve. A Runner restarts a failed Watch after its
// error backoff (Config.RetryAfter, doubling to Config.MaxRetryAfter),
// resolves once on each restart, as changes may have been missed, and keeps
// polling meanwhile. Watch runs in a goroutine of its own, concurrently
// with Resolve.
type Watcher interface {
	Resolver
	Watch(ctx context.Context, changed func()) error
}
