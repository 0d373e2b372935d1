package lb

import (
	"time"
	_ "unsafe" // for go:linkname
)

// The pool reads two clocks, both monotonic and both off the hot path of
// P2C and round robin:
//   - the health clock (Pool.now), microseconds since the pool's epoch,
//     for cooldown and probe deadlines: read on ejections and probe leases;
//   - the latency clock (Pool.nanos), nanoseconds, read only by PeakEWMA
//     leases to time their requests.

// monotonic is the default health clock: time.Since reads the monotonic
// reading of time.Now, which testing/synctest fakes in tests.
func (p *Pool) monotonic() int64 { return int64(time.Since(p.epoch) / time.Microsecond) }

// nanotime is the runtime's monotonic clock in nanoseconds: the vDSO read
// under time.Now without the wall-clock half. The runtime keeps this symbol
// linkable on purpose (go.dev/issue/67401).
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64
