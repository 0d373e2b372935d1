package discovery

import "errors"

// Sentinel errors. Every error the package returns, other than a context's
// own error when that context ends, wraps one of these (a set the target's
// Set rejected also wraps the target's error, such as lb.ErrAddress), so
// callers can test for them with errors.Is.
var (
	// ErrConfig wraps every rejection of a Config or DNSConfig: a negative
	// or out-of-range field, or two fields that contradict each other.
	ErrConfig = errors.New("discovery: invalid config")

	// ErrResolve wraps every failed resolve: the backend's error, a timeout,
	// a malformed answer (an unparsable file, an SRV record with port 0, a
	// duplicate address), an empty answer the Runner does not apply, and a
	// set the target's Set rejected. Status.LastError holds the latest one.
	ErrResolve = errors.New("discovery: resolve failed")

	// ErrClosed is returned by WaitForReady once the Runner is closed
	// before it was ready.
	ErrClosed = errors.New("discovery: runner closed")
)
