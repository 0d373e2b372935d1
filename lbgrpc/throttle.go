package lbgrpc

import (
	"context"
	"errors"
	"fmt"

	"github.com/nanolb/nanolb/internal/throttle"
	"github.com/nanolb/nanolb/lb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// DefaultThrottleK is NewThrottle's and ThrottleInterceptor's K when zero,
// the SRE book's: servers may reject half of the RPCs before the client
// sheds any.
const DefaultThrottleK = throttle.DefaultK

// MaxThrottleK is the largest K NewThrottle and ThrottleInterceptor
// accept; the smallest is 1.
const MaxThrottleK = 10

// ErrThrottled is wrapped by the error of an RPC a throttle's interceptor
// refused (Throttle, ThrottleInterceptor): it was not sent. The error's
// gRPC status is Unavailable.
var ErrThrottled = errors.New("lbgrpc: throttled")

// errThrottled is the error a refused RPC returns: status Unavailable,
// wrapping ErrThrottled. It is made once, so a refusal allocates nothing.
var errThrottled = fmt.Errorf("%w: %w", ErrThrottled,
	status.Error(codes.Unavailable, "servers are rejecting RPCs as overloaded; shed locally by the client"))

// Throttle is the SRE book's client-side adaptive throttling for the
// unary RPCs of a ClientConn (see Throttling in the package
// documentation): its Interceptor sheds RPCs while servers reject them as
// overloaded, and Stats reads its counts, for monitoring. NewThrottle
// makes one; the zero value is not usable. It is safe for concurrent use.
type Throttle struct {
	th *throttle.Throttle
}

// NewThrottle returns a throttle with K = k, whose window starts now.
// Zero means DefaultThrottleK (2); k must be from 1 to MaxThrottleK, or
// the error wraps lb.ErrConfig.
func NewThrottle(k float64) (*Throttle, error) {
	switch {
	case k == 0:
		k = DefaultThrottleK
	case !(k >= 1 && k <= MaxThrottleK):
		return nil, fmt.Errorf("lbgrpc: throttle K %v out of range [1, %d]: %w", k, MaxThrottleK, lb.ErrConfig)
	}
	return &Throttle{th: throttle.New(k)}, nil
}

// Interceptor returns the unary client interceptor that sheds RPCs by t's
// counts: give it to a ClientConn with grpc.WithUnaryInterceptor. Every
// interceptor t returns counts into t, so ClientConns given one share a
// throttle; give each ClientConn its own Throttle to keep them apart.
func (t *Throttle) Interceptor() grpc.UnaryClientInterceptor {
	return t.intercept
}

func (t *Throttle) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	th := t.th
	if !th.Allow() {
		return errThrottled
	}
	err := invoker(ctx, method, req, reply, cc, opts...)
	switch {
	case err == nil:
		th.Record(true)
	case errors.Is(ctx.Err(), context.Canceled):
		th.Cancel() // the caller ended it, not the server
	default:
		c := status.Code(err)
		th.Record(c != codes.ResourceExhausted && c != codes.Unavailable)
	}
	return err
}

// ThrottleStats is what a Throttle holds at one moment, as Throttle.Stats
// reads it. The zero value is a throttle that has counted nothing. Its
// fields are those of lbhttp.ThrottleStats and lbprom.ThrottleStats, so
// each converts to the others.
type ThrottleStats struct {
	// Requests is the RPCs the throttle counted over its window, the last
	// two minutes: those it refused included, those their caller
	// cancelled not.
	Requests int64
	// Accepts is the RPCs servers accepted over the same window: every
	// ending but ResourceExhausted, Unavailable and a cancellation.
	Accepts int64
	// Rejected is the RPCs the throttle refused (ErrThrottled) since
	// NewThrottle: a total that only grows, not a count over the window.
	Rejected uint64
}

// Stats returns t's counts now, the window turned to the present so that
// counts older than two minutes are gone even when no RPC came since. It
// is safe to call while RPCs run, from a metrics scrape for one
// (lbprom.NewThrottleCollector exports them).
func (t *Throttle) Stats() ThrottleStats {
	s := t.th.Stats()
	return ThrottleStats{Requests: s.Requests, Accepts: s.Accepts, Rejected: s.Rejected}
}

// ThrottleInterceptor returns a unary client interceptor that sheds RPCs
// locally while servers reject them as overloaded, by the SRE book's
// client-side adaptive throttling with K = k; see Throttling in the
// package documentation. Zero means DefaultThrottleK (2); k must be from
// 1 to MaxThrottleK, or the error wraps lb.ErrConfig. Each interceptor
// keeps its own counts: give one to each ClientConn (grpc.WithUnaryInterceptor).
// It is NewThrottle(k)'s Interceptor; use NewThrottle to read the counts.
func ThrottleInterceptor(k float64) (grpc.UnaryClientInterceptor, error) {
	t, err := NewThrottle(k)
	if err != nil {
		return nil, err
	}
	return t.Interceptor(), nil
}
