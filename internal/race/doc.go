// Package race tells whether the race detector is on, for code that must
// take another path under it: the detector does not see memory that
// assembly reads, nor know that a goroutine pinned to its processor is the
// only writer of that processor's counter, so those paths use atomics or
// Go instead while it runs.
package race
