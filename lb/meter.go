package lb

import (
	"context"
	"errors"
	"math"
	"time"
	"unsafe"

	"sync/atomic"

	"github.com/nanolb/nanolb/internal/fastrand"
	"github.com/nanolb/nanolb/internal/gradient"
)

// Adaptive concurrency (Config.AdaptiveConcurrency): each endpoint's limit
// follows its latency by the gradient rule of internal/gradient. A lease of
// such a pool may be timed (its mark is then its start on the latency
// clock): every lease until its endpoint's window holds adaptSampleFloor
// samples, then one in adaptSampleEvery, so that the clock reads fall where
// requests are many. Done adds a timed success's latency to the endpoint's
// meter with one atomic add, and counts timeouts and the peak in flight for
// every lease. Every adaptInterval the pool's evaluator, a timer off the
// hot path, folds each meter's window into its endpoint's limit and
// publishes it with one atomic store, which admission reads.

// adaptInterval is how often the evaluator runs, as Envoy's adaptive
// concurrency samples every 100 ms.
const adaptInterval = 100 * time.Millisecond

// adaptMinSamples is the completions a window needs to be evaluated; a
// window with fewer carries on, for up to adaptMaxCarry intervals.
const (
	adaptMinSamples = 5
	adaptMaxCarry   = 10
)

// Timing: every lease while the window holds fewer than adaptSampleFloor
// samples, then one in adaptSampleEvery (as PeakEWMA's sampleEvery).
const (
	adaptSampleFloor = 8
	adaptSampleEvery = 8
)

// A meter window packs completions and their summed latency in one word,
// so Done adds both at once: completions in the top 24 bits, latency in
// microseconds in the low 40 (about 12 days). A sample is capped at
// sampleMaxMicros, so a window overflows only with more than 256 samples
// at the cap, or 16 million completions, between two evaluations.
const (
	windowShift     = 40
	sampleMaxMicros = 1<<32 - 1
)

// meter is one endpoint's adaptive-limit state. The first line is written
// by Done and read by Pick; the rest is the evaluator's own.
type meter struct {
	window   atomic.Uint64 // completions<<windowShift | summed latency µs, since the last evaluation
	timeouts atomic.Uint64 // leases ended by context.DeadlineExceeded, since the last evaluation
	limit    atomic.Int64  // the limit in force, read by admission
	peak     atomic.Int64  // the most in flight at a Done since the last evaluation
	failures atomic.Uint32 // failed leases so far, for outlier detection (modulo 2^32)
	neutral  atomic.Uint32 // cancelled leases so far, likewise
	ramp     atomic.Uint32 // slow start's factor, in units of rampOne; read by Pick while the pool ramps
	_        [cacheLine - 44]byte

	meterState
	_ [(cacheLine - unsafe.Sizeof(meterState{})%cacheLine) % cacheLine]byte
}

// meterState is the part of a meter that evaluations own.
type meterState struct {
	// The adaptive limit's evaluator's.
	gradient *gradient.Limit // nil without an adaptive limit
	carried  int             // intervals the current window has carried on for

	// Outlier detection's, under its lock (outlier.go); requests, rate and
	// reason are read by Endpoints.
	lastEnded, lastFailures, lastNeutral uint32
	k                                    uint64 // outlier ejections, less one per clean judged interval
	justEjected                          bool
	requests                             atomic.Uint32 // requests in the last evaluated interval
	reason                               atomic.Uint32 // EjectReason of the last ejection
	rate                                 atomic.Uint64 // success rate in the last interval with requests, float64 bits

	// Slow start's, under its lock (slowstart.go).
	rampFrom atomic.Int64 // health-clock time the ramp began; 0: not ramping

	// LoadWeights' (loadweights.go): the latest report's weight and its
	// clock, written by ReportLoad; the weight in force, by the weigher.
	load loadState
}

// newMeter is a new endpoint's meter. Under an adaptive limit the limit
// starts at the minimum, at which it measures the endpoint's unloaded
// latency first.
func (p *Pool) newMeter() *meter {
	m := new(meter)
	m.rate.Store(math.Float64bits(1))
	m.ramp.Store(rampOne)
	if p.adaptive {
		m.gradient = gradient.New(gradient.Config{Min: p.cfg.minLimit, Max: int(p.limit)}, fastrand.Uint63)
		m.limit.Store(int64(m.gradient.Current()))
	}
	return m
}

// timed reports whether a new lease on the endpoint is to be timed.
func (m *meter) timed() bool {
	return m.window.Load()>>windowShift < adaptSampleFloor || fastrand.Uint63()%adaptSampleEvery == 0
}

// record adds a lease's outcome to its endpoint's window: a timed
// success's latency (mark is its start, or unsampled), or a timeout, and
// the in-flight count it ended at (n, with itself) if that is the window's
// peak. Other failures are health's business, and a cancelled request says
// nothing about the endpoint.
func (m *meter) record(mark int64, err error, n int64) {
	if n > m.peak.Load() {
		m.peak.Store(n) // a racing Done may store a lower peak: the window's estimate, not a bound
	}
	switch {
	case err == nil:
		if mark == unsampled {
			return
		}
		us := min(uint64(max(nanos()-mark>>1, 0))/1000, sampleMaxMicros)
		m.window.Add(1<<windowShift | us)
	case errors.Is(err, context.DeadlineExceeded):
		m.timeouts.Add(1)
	}
}

// evaluate folds every endpoint's window into its limit, then runs again
// after adaptInterval unless the pool was closed. A raised limit may let
// a waiter in.
func (p *Pool) evaluate() {
	p.adaptMu.Lock()
	defer p.adaptMu.Unlock()
	if p.queue.Closed() {
		return
	}
	raised := false
	for _, c := range p.view.Load().cores {
		if m := c.meter; m != nil && m.gradient != nil {
			raised = m.evaluate(c) || raised
		}
	}
	p.adapt.Reset(adaptInterval)
	if raised {
		p.kick()
	}
}

// evaluate folds m's window into its limit if it holds enough completions
// or has carried on long enough, and reports whether the limit rose.
func (m *meter) evaluate(c *core) bool {
	w := m.window.Load()
	if n := w >> windowShift; n < adaptMinSamples && m.carried < adaptMaxCarry && m.timeouts.Load() == 0 {
		m.carried++
		return false
	}
	w = m.window.Swap(0)
	win := gradient.Window{
		Length:    time.Duration(m.carried+1) * adaptInterval,
		Completed: int(w >> windowShift),
		Latency:   time.Duration(w&(1<<windowShift-1)) * time.Microsecond,
		Timeouts:  int(m.timeouts.Swap(0)),
		InFlight:  int(c.inFlight()),
		Peak:      int(m.peak.Swap(0)),
	}
	m.carried = 0
	was := m.limit.Load()
	now := int64(m.gradient.Update(win))
	m.limit.Store(now)
	return now > was
}

// limitOf is c's concurrency limit: its meter's under an adaptive limit,
// else Config.MaxConcurrency.
func (p *Pool) limitOf(c *core) int64 {
	if p.adaptive {
		return c.meter.limit.Load()
	}
	return p.limit
}
