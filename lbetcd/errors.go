package lbetcd

import "errors"

// Sentinel errors. Every error the package returns wraps one of these, so
// callers can test for them with errors.Is; an error from etcd is wrapped
// too, so errors.Is also finds etcd's own (rpctypes.ErrCompacted,
// context.DeadlineExceeded).
var (
	// ErrConfig wraps every rejection of an argument: a nil client, an
	// empty prefix, an endpoint with an invalid address or weight, a TTL
	// below zero or over MaxTTL.
	ErrConfig = errors.New("lbetcd: invalid argument")

	// ErrValue wraps every rejection of a stored value that is not an
	// endpoint (see ParseValue), and a Resolve whose prefix holds values
	// but not one valid endpoint.
	ErrValue = errors.New("lbetcd: invalid endpoint value")

	// ErrEtcd wraps every failed request to etcd: a Get, a watch that
	// ended, a lease grant, put or revoke. The cause (a timeout, a lost
	// connection, a closed client) is wrapped beside it.
	ErrEtcd = errors.New("lbetcd: etcd request failed")
)
