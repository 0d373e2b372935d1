package lb

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Outlier detection ejects an endpoint whose requests fail much more often
// than its peers', which consecutive failures miss when failures are
// scattered (a backend failing 20% of requests at random rarely fails five
// in a row). It evaluates each endpoint's requests and failures over an
// interval with the rules of Envoy's outlier detection and gRPC's gRFC A50:
//
//   - success rate: among the endpoints that are up with at least
//     MinRequests requests in the interval, if there are MinHosts of them,
//     eject each whose success rate is below mean − StdevFactor × standard
//     deviation of their rates and that failed at least outlierMinFailures
//     times (against peers that never fail, the deviation is so small that
//     a single failure would be below it; a rate from fewer failures is
//     noise);
//   - failure percentage: among those up with at least FailureMinRequests,
//     if there are MinHosts of them, eject each whose failures reach
//     FailurePercent of its requests.
//
// Ejections share the MaxEjectedPercent cap, the probe, events and status
// with consecutive-failure ejections. Their cooldown is A50's:
// Outlier.EjectFor × k, up to Outlier.MaxEjectFor, where k counts the
// endpoint's outlier ejections and falls by one at each evaluation that
// judges it and finds it clean. A rate is evidence gathered over a second
// or more, not one request: the cooldown is long, so that a probe's single
// success does not readmit a backend that fails a fifth of its requests.
//
// Cost: an endpoint's requests are the leases ended, counted in the lease
// word by the add that ends them (slots.go); failures and cancellations are
// counted on their own paths, which already go through report. Nothing is
// added to a successful Done. An evaluation runs at a failure that comes at
// least Interval after the previous one, in that failure's Done: a pool
// with no failures never evaluates, and needs no timer.

// EjectReason says why an endpoint was ejected.
type EjectReason uint8

const (
	// ConsecutiveFailures: Config.EjectAfter failures in a row.
	ConsecutiveFailures EjectReason = iota // consecutive_failures
	// SuccessRate: a success rate below the pool's mean less
	// Outlier.StdevFactor standard deviations.
	SuccessRate // success_rate
	// FailurePercentage: failures at or above Outlier.FailurePercent of the
	// endpoint's requests.
	FailurePercentage // failure_percentage
)

// Outlier configures ejection by success rate and by failure percentage,
// beside Config.EjectAfter's consecutive failures. The zero value turns both
// on with gRFC A50's thresholds, evaluated every second; Off turns them
// off. Pools of fewer than MinHosts endpoints with enough requests are
// never evaluated.
type Outlier struct {
	// Off turns success-rate and failure-percentage ejection off.
	Off bool

	// Interval is how often rates are evaluated: at a failure that comes
	// at least Interval after the previous evaluation, over the requests
	// since. Zero means 1 second; otherwise 1ms..24h.
	Interval time.Duration

	// MinHosts is how many endpoints need enough requests in an interval
	// for either rule to judge them. Zero means 5 (A50); otherwise 2..10,000.
	MinHosts int

	// StdevFactor is the success-rate rule's k: an endpoint is an outlier
	// below mean − k × standard deviation. Zero means 1.9 (A50 and Envoy);
	// otherwise 0.1..10.
	StdevFactor float64

	// MinRequests is the success-rate rule's request volume per endpoint
	// and interval. Zero means 100 (A50); otherwise 1..1<<30.
	MinRequests int

	// FailurePercent is the failure-percentage rule's threshold. Zero
	// means 85 (A50); otherwise 1..100.
	FailurePercent int

	// FailureMinRequests is the failure-percentage rule's request volume
	// per endpoint and interval. Zero means 50 (A50); otherwise 1..1<<30.
	FailureMinRequests int

	// EjectFor is the cooldown of an endpoint's first outlier ejection;
	// the k-th in a row lasts k times as long, up to MaxEjectFor. Zero
	// means 30 seconds (A50's base ejection time); otherwise 1ms..24h.
	EjectFor time.Duration

	// MaxEjectFor caps an outlier ejection's cooldown. Zero means 5
	// minutes (A50's), or EjectFor if that is longer; otherwise 1ms..24h
	// and not shorter than EjectFor.
	MaxEjectFor time.Duration
}

// outlierMinFailures is the least number of failures in an interval that
// makes an endpoint a success-rate outlier: EjectAfter's default.
const outlierMinFailures = 5

// Defaults of Outlier's zero fields.
const (
	DefaultOutlierInterval    = time.Second
	DefaultOutlierMinHosts    = 5
	DefaultStdevFactor        = 1.9
	DefaultOutlierMinRequests = 100
	DefaultFailurePercent     = 85
	DefaultFailureMinRequests = 50
	DefaultOutlierEjectFor    = 30 * time.Second
	DefaultOutlierMaxEjectFor = 5 * time.Minute
)

// outliers is Outlier resolved.
type outliers struct {
	on                    bool
	interval              int64 // µs
	minHosts              int
	factor                float64
	minRequests, minFails uint32
	failPercent           int
	ejectFor, maxEjectFor int64 // µs
}

// resolve checks o's limits and applies its defaults.
func (o Outlier) resolve() (outliers, error) {
	if o.Off {
		if o != (Outlier{Off: true}) {
			return outliers{}, fmt.Errorf("%w: Outlier.Off with other Outlier fields set", ErrConfig)
		}
		return outliers{}, nil
	}
	r := outliers{on: true, minHosts: DefaultOutlierMinHosts, factor: DefaultStdevFactor,
		minRequests: DefaultOutlierMinRequests, minFails: DefaultFailureMinRequests, failPercent: DefaultFailurePercent}
	switch {
	case o.Interval != 0 && (o.Interval < time.Millisecond || o.Interval > maxDuration):
		return r, fmt.Errorf("%w: Outlier.Interval %v is outside 1ms..24h (0 means %v)", ErrConfig, o.Interval, DefaultOutlierInterval)
	case o.MinHosts != 0 && (o.MinHosts < 2 || o.MinHosts > 10000):
		return r, fmt.Errorf("%w: Outlier.MinHosts %d is outside 2..10000 (0 means %d)", ErrConfig, o.MinHosts, DefaultOutlierMinHosts)
	case o.StdevFactor != 0 && !(o.StdevFactor >= 0.1 && o.StdevFactor <= 10):
		return r, fmt.Errorf("%w: Outlier.StdevFactor %v is outside 0.1..10 (0 means %v)", ErrConfig, o.StdevFactor, DefaultStdevFactor)
	case o.MinRequests < 0 || o.MinRequests > maxLimit:
		return r, fmt.Errorf("%w: Outlier.MinRequests %d is outside 1..%d (0 means %d)", ErrConfig, o.MinRequests, maxLimit, DefaultOutlierMinRequests)
	case o.FailurePercent < 0 || o.FailurePercent > 100:
		return r, fmt.Errorf("%w: Outlier.FailurePercent %d is outside 1..100 (0 means %d)", ErrConfig, o.FailurePercent, DefaultFailurePercent)
	case o.FailureMinRequests < 0 || o.FailureMinRequests > maxLimit:
		return r, fmt.Errorf("%w: Outlier.FailureMinRequests %d is outside 1..%d (0 means %d)", ErrConfig, o.FailureMinRequests, maxLimit, DefaultFailureMinRequests)
	}
	ejectFor, err := duration("Outlier.EjectFor", o.EjectFor, DefaultOutlierEjectFor)
	if err != nil {
		return r, err
	}
	maxEjectFor, err := duration("Outlier.MaxEjectFor", o.MaxEjectFor, max(DefaultOutlierMaxEjectFor, ejectFor))
	if err != nil {
		return r, err
	}
	if maxEjectFor < ejectFor {
		return r, fmt.Errorf("%w: Outlier.MaxEjectFor %v is shorter than Outlier.EjectFor %v", ErrConfig, maxEjectFor, ejectFor)
	}
	r.ejectFor, r.maxEjectFor = micros(ejectFor), micros(maxEjectFor)
	r.interval = micros(DefaultOutlierInterval)
	if o.Interval != 0 {
		r.interval = micros(o.Interval)
	}
	if o.MinHosts != 0 {
		r.minHosts = o.MinHosts
	}
	if o.StdevFactor != 0 {
		r.factor = o.StdevFactor
	}
	if o.MinRequests != 0 {
		r.minRequests = uint32(o.MinRequests)
	}
	if o.FailurePercent != 0 {
		r.failPercent = o.FailurePercent
	}
	if o.FailureMinRequests != 0 {
		r.minFails = uint32(o.FailureMinRequests)
	}
	return r, nil
}

// detector is a pool's outlier-detection state.
type detector struct {
	next atomic.Int64 // health-clock time of the next evaluation
	mu   sync.Mutex   // one evaluation at a time (TryLock: a busy one is enough)
	// Scratch for an evaluation, kept to allocate nothing once grown.
	cands []candidate
}

// candidate is one endpoint an evaluation judges.
type candidate struct {
	c                  *core
	m                  *meter
	requests, failures uint32
}

// counted notes an outcome the pool's endpoints' meters count beside the
// lease word, and runs an evaluation when one is due: at a failure that
// comes Interval or more after the previous evaluation.
func (p *Pool) counted(c *core, failed bool) {
	m := c.meter
	if m == nil || !p.cfg.outlier.on { // a meter may be the adaptive limit's or slow start's alone
		return
	}
	if !failed {
		m.neutral.Add(1)
		return
	}
	m.failures.Add(1)
	if now := p.now(); now >= p.detect.next.Load() && p.detect.mu.TryLock() {
		if now >= p.detect.next.Load() {
			p.detect.next.Store(now + p.cfg.outlier.interval)
			p.evaluateOutliers()
		}
		p.detect.mu.Unlock()
	}
}

// evaluateOutliers applies both rules to the requests since the previous
// evaluation, under detect.mu.
func (p *Pool) evaluateOutliers() {
	o := &p.cfg.outlier
	cands := p.detect.cands[:0]
	for _, c := range p.view.Load().cores {
		m := c.meter
		if m == nil {
			continue
		}
		ended, fails, neutral := c.ended(), m.failures.Load(), m.neutral.Load()
		n, f, z := ended-m.lastEnded, fails-m.lastFailures, neutral-m.lastNeutral
		m.lastEnded, m.lastFailures, m.lastNeutral = ended, fails, neutral
		requests := n - min(z, n)
		f = min(f, requests)
		m.requests.Store(requests)
		if requests > 0 {
			m.rate.Store(math.Float64bits(1 - float64(f)/float64(requests)))
		}
		if stateOf(c.health.Load()) == stateUp {
			cands = append(cands, candidate{c: c, m: m, requests: requests, failures: f})
		}
	}
	p.detect.cands = cands
	p.successRateRule(cands, o)
	p.failurePercentRule(cands, o)
	judged := min(o.minRequests, o.minFails)
	for _, cd := range cands {
		if !cd.m.justEjected && cd.m.k > 0 && cd.requests >= judged {
			cd.m.k-- // judged over an interval, and not an outlier
		}
		cd.m.justEjected = false
	}
}

// successRateRule ejects the candidates below mean − k·sd among those with
// MinRequests, if MinHosts have them.
func (p *Pool) successRateRule(cands []candidate, o *outliers) {
	var sum, sq float64
	n := 0
	for _, cd := range cands {
		if cd.requests >= o.minRequests {
			r := 1 - float64(cd.failures)/float64(cd.requests)
			sum += r
			sq += r * r
			n++
		}
	}
	if n < o.minHosts {
		return
	}
	mean := sum / float64(n)
	sd := math.Sqrt(max(sq/float64(n)-mean*mean, 0))
	threshold := mean - o.factor*sd
	for _, cd := range cands {
		if cd.requests >= o.minRequests && cd.failures >= outlierMinFailures {
			if r := 1 - float64(cd.failures)/float64(cd.requests); r < threshold {
				p.ejectOutlier(cd, SuccessRate, r, threshold)
			}
		}
	}
}

// failurePercentRule ejects the candidates whose failures reach
// FailurePercent among those with FailureMinRequests, if MinHosts have
// them.
func (p *Pool) failurePercentRule(cands []candidate, o *outliers) {
	n := 0
	for _, cd := range cands {
		if cd.requests >= o.minFails {
			n++
		}
	}
	if n < o.minHosts {
		return
	}
	threshold := 1 - float64(o.failPercent)/100
	for _, cd := range cands {
		if cd.requests >= o.minFails && !cd.m.justEjected && 100*uint64(cd.failures) >= uint64(o.failPercent)*uint64(cd.requests) {
			p.ejectOutlier(cd, FailurePercentage, 1-float64(cd.failures)/float64(cd.requests), threshold)
		}
	}
}

// ejectOutlier ejects cd's endpoint for its outlier cooldown if it is
// still up and the MaxEjectedPercent cap allows; a refusal is an
// EventEjected with Refused, as for consecutive failures.
func (p *Pool) ejectOutlier(cd candidate, why EjectReason, rate, threshold float64) bool {
	c, m := cd.c, cd.m
	h := c.health.Load()
	if stateOf(h) != stateUp {
		return false
	}
	note := outlierNote{reason: why, rate: rate, threshold: threshold}
	if !p.reserveEjection() {
		p.transitionNoted(c, h, h, EventEjected, true, note)
		return false
	}
	m.k = min(m.k+1, ejectMax)
	m.justEjected = true
	m.reason.Store(uint32(why))
	deadline := p.now() + p.outlierPenalty(m.k)
	next := healthWord(stateEjected, streakOf(h), m.k, deadline)
	if !p.transitionNoted(c, h, next, EventEjected, false, note) {
		p.counts.ejected.Add(-1) // it moved meanwhile: leave it to its own transition
		m.justEjected = false
		return false
	}
	p.track(c)
	p.arm(deadline)
	return true
}

// outlierPenalty is the cooldown of an endpoint's k-th outlier ejection in
// a row: Outlier.EjectFor × k up to Outlier.MaxEjectFor, less the jitter
// penalty gives.
func (p *Pool) outlierPenalty(k uint64) int64 {
	o := &p.cfg.outlier
	d := o.maxEjectFor
	if k <= uint64(o.maxEjectFor/o.ejectFor) {
		d = o.ejectFor * int64(k)
	}
	return p.jittered(d)
}

// outlierNote is what an outlier ejection's event adds: why, the
// endpoint's success rate and the threshold it fell below.
type outlierNote struct {
	reason          EjectReason
	rate, threshold float64
}

// transitionNoted is transition with an outlier ejection's note for its
// event (zero for any other transition).
func (p *Pool) transitionNoted(c *core, old, next uint64, kind EventKind, refused bool, note outlierNote) bool {
	o := p.ordered()
	swapped := c.health.CompareAndSwap(old, next)
	if swapped {
		o.recordNoted(kind, c, next, refused, note)
	}
	o.unlock()
	return swapped
}
