package lbgrpc

import (
	"context"
	"sync"
	"sync/atomic"
)

// A Hedger's attempts tell the picker where not to go, and the picker
// tells them where it went, through a route in the attempt's context.

// hedgersMade turns on the picker's look for an attempt's route in its
// context, so that a program that never hedges pays nothing for it.
var hedgersMade atomic.Bool

// routeKey keys an attempt's route in its context.
type routeKey struct{}

// attemptRoute is how a hedged RPC's attempt and the picker speak: the
// interceptor sets tried before the attempt starts, the picker leases an
// endpoint not in it and records that endpoint, and the interceptor reads
// it to exclude it from later attempts. The picker may pick more than once
// for one attempt (gRPC's transparent retry): the last pick is recorded.
type attemptRoute struct {
	tried []string // the endpoints of the RPC's earlier attempts; never changed once set

	mu       sync.Mutex
	endpoint string // the leased endpoint; "" before a pick succeeds
}

func (r *attemptRoute) picked(endpoint string) {
	r.mu.Lock()
	r.endpoint = endpoint
	r.mu.Unlock()
}

func (r *attemptRoute) leased() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.endpoint
}

// routeOf returns the route of the hedged attempt whose context ctx is, or nil.
func routeOf(ctx context.Context) *attemptRoute {
	if !hedgersMade.Load() || ctx == nil {
		return nil
	}
	r, _ := ctx.Value(routeKey{}).(*attemptRoute)
	return r
}
