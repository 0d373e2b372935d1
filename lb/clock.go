package lb

import "time"

// The pool reads one clock, the monotonic one, and only off the hot path of
// every policy but PeakEWMA:
//   - the health clock (Pool.now), microseconds since the pool's epoch, for
//     cooldown and probe deadlines: read on ejections and probe leases;
//   - the latency clock (nanos), nanoseconds, read only by PeakEWMA's
//     leases to time a sample of their requests (peakewma.go).
//
// Both are time.Since of a monotonic reading: one read of the runtime's
// clock, without time.Now's wall-clock half, and inside a testing/synctest
// bubble a read of the bubble's fake clock, so tests control time.

// latencyEpoch is the latency clock's zero.
var latencyEpoch = time.Now()

// nanos is the latency clock.
func nanos() int64 { return int64(time.Since(latencyEpoch)) }

// testHookClockRead, when set by a test, is called on every read of a
// pool's health clock, so tests can count them. Pick and Done reach it only
// where they read the clock, which the common path never does.
var testHookClockRead func(*Pool)

// now is the health clock: microseconds since the pool's epoch.
func (p *Pool) now() int64 {
	if testHookClockRead != nil {
		testHookClockRead(p)
	}
	return int64(time.Since(p.epoch) / time.Microsecond)
}
