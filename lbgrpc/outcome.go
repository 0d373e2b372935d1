package lbgrpc

import (
	"context"
	"errors"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Classifier turns how an RPC ended into the outcome its lease reports, in
// lb.Lease.Done's terms: nil is a success, an error wrapping
// context.Canceled is neutral (only the in-flight count changes), and any
// other error is a failure that extends the endpoint's failure streak. It is
// called once per RPC, from the goroutine that ends the RPC, and must not
// block. Whatever it says, a failure of an RPC whose caller cancelled its
// context is neutral, as in lbhttp: the caller ended it, not the endpoint.
// A deadline that passed is the Classifier's to judge (Classify: a
// failure).
type Classifier func(info balancer.DoneInfo) error

// Classify is the default Classifier. An RPC that sent no bytes (it never
// reached the server; grpc-go ends an abandoned pick that way too) or was
// cancelled is neutral; status Unavailable or DeadlineExceeded, or an error
// wrapping context.DeadlineExceeded, is a failure; no error and any other
// status is a success: the server answered, and an application error such
// as NotFound says nothing about its health.
func Classify(info balancer.DoneInfo) error {
	switch {
	case !info.BytesSent:
		return context.Canceled
	case info.Err == nil:
		return nil
	case errors.Is(info.Err, context.Canceled):
		return context.Canceled
	case errors.Is(info.Err, context.DeadlineExceeded):
		return info.Err
	}
	switch status.Code(info.Err) {
	case codes.Unavailable, codes.DeadlineExceeded:
		return info.Err
	case codes.Canceled:
		return context.Canceled
	}
	return nil
}
