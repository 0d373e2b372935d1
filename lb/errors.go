package lb

import "errors"

// Sentinel errors. Every error the package returns wraps one of these, so
// callers can test for them with errors.Is.
var (
	// ErrNoEndpoint is returned by Pick when nothing can be picked: the pool
	// is empty, or, at MaxEjectedPercent 100, every endpoint is ejected and
	// none is due for a probe.
	ErrNoEndpoint = errors.New("lb: no endpoint available")

	// ErrNoPool is returned by Registry.Pick for a name that has no pool.
	ErrNoPool = errors.New("lb: no such pool")

	// ErrConfig wraps every rejection of a Config: a negative, out-of-range
	// or contradictory field, or an unknown policy.
	ErrConfig = errors.New("lb: invalid config")

	// ErrAddress wraps every rejection of an endpoint address: an empty one,
	// or the same address twice in one call.
	ErrAddress = errors.New("lb: invalid endpoint address")

	// ErrName is returned for an empty registry name.
	ErrName = errors.New("lb: invalid pool name")
)
