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

// DefaultThrottleK is ThrottleInterceptor's K when zero, the SRE book's:
// servers may reject half of the RPCs before the client sheds any.
const DefaultThrottleK = throttle.DefaultK

// MaxThrottleK is the largest K ThrottleInterceptor accepts; the smallest
// is 1.
const MaxThrottleK = 10

// ErrThrottled is wrapped by the error of an RPC ThrottleInterceptor
// refused: it was not sent. The error's gRPC status is Unavailable.
var ErrThrottled = errors.New("lbgrpc: throttled")

// errThrottled is the error a refused RPC returns: status Unavailable,
// wrapping ErrThrottled. It is made once, so a refusal allocates nothing.
var errThrottled = fmt.Errorf("%w: %w", ErrThrottled,
	status.Error(codes.Unavailable, "servers are rejecting RPCs as overloaded; shed locally by the client"))

// ThrottleInterceptor returns a unary client interceptor that sheds RPCs
// locally while servers reject them as overloaded, by the SRE book's
// client-side adaptive throttling with K = k; see Throttling in the
// package documentation. Zero means DefaultThrottleK (2); k must be from
// 1 to MaxThrottleK, or the error wraps lb.ErrConfig. Each interceptor
// keeps its own counts: give one to each ClientConn (grpc.WithUnaryInterceptor).
func ThrottleInterceptor(k float64) (grpc.UnaryClientInterceptor, error) {
	switch {
	case k == 0:
		k = DefaultThrottleK
	case !(k >= 1 && k <= MaxThrottleK):
		return nil, fmt.Errorf("lbgrpc: throttle K %v out of range [1, %d]: %w", k, MaxThrottleK, lb.ErrConfig)
	}
	th := throttle.New(k)
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
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
	}, nil
}
