package lb

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error the package returns wraps one of these, so
// callers can test for them with errors.Is.
var (
	// ErrNoEndpoint is returned by Pick when nothing can be picked: the pool
	// is empty, or, at MaxEjectedPercent 100, every endpoint is ejected and
	// none is due for a probe.
	ErrNoEndpoint = errors.New("lb: no endpoint available")

	// ErrConfig wraps every rejection of a Config: a negative, out-of-range
	// or contradictory field, or an unknown policy.
	ErrConfig = errors.New("lb: invalid config")

	// ErrAddress wraps every rejection of an endpoint address: an empty one,
	// or the same address twice in one call.
	ErrAddress = errors.New("lb: invalid endpoint address")

	// ErrSaturated is returned by Pick on a pool with Config.MaxConcurrency
	// when every endpoint that is up is at its limit, or when PickWait
	// callers are queued (a new Pick does not overtake them).
	ErrSaturated = errors.New("lb: every endpoint at its concurrency limit")

	// ErrQueueFull is returned by PickWait when Config.MaxWaiters callers
	// are already waiting.
	ErrQueueFull = errors.New("lb: wait queue full")

	// ErrShed is returned by PickWait to a caller that waited longer than
	// Config.WaitTarget in a queue that has not emptied for
	// Config.WaitInterval: under standing congestion newer callers are
	// served first, and an old one fails fast instead of at its deadline.
	ErrShed = errors.New("lb: shed from a standing wait queue")

	// ErrClosed is returned by PickWait once the pool is closed (Close, or
	// Registry.Delete), to the callers waiting then and to every later one.
	ErrClosed = errors.New("lb: pool closed")

	// ErrName is returned for an empty registry name.
	ErrName = errors.New("lb: invalid pool name")

	// ErrShardDown is returned by PickKey and PickKeyUint64 on a Shard pool
	// while the key's shard is ejected or probing (until its probe
	// reinstates it), or empty, or when the pool has no endpoints: strict
	// routing never sends a key to another shard. Scatter with
	// ScatterOptions.Complete reports it for an endpoint it could not
	// lease. It wraps ErrNoEndpoint.
	ErrShardDown = fmt.Errorf("%w: the shard is down", ErrNoEndpoint)
)
