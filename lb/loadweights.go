package lb

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// LoadWeights weighs a WeightedRoundRobin pool's endpoints by the load
// they report about themselves (Lease.ReportLoad, fed by lbhttp from the
// endpoint-load-metrics header and by lbgrpc from ORCA), by gRFC A58's
// rule: an endpoint's weight is
//
//	RPS / (utilization + EPS/RPS × ErrorUtilizationPenalty)
//
// where utilization is the report's ApplicationUtilization, or its
// CPUUtilization when that is zero; a report without RPS or utilization
// is ignored. An endpoint's weight counts from BlackoutPeriod after its
// first report, and lapses ExpirationPeriod after its last (the blackout
// then starts again); endpoints without a weight get the mean of those
// with one. With fewer than two weights (A58: round robin) the pool
// weighs by Endpoint.Weight, so static weights are the prior that
// reports replace: equal weights make it round robin.
// Weights are recomputed every UpdatePeriod off the hot path, and
// published with the pool's table in one atomic store.
type LoadWeights struct {
	// Enabled turns weighing by reported load on. Only a
	// WeightedRoundRobin pool may; its static weights then apply only
	// while fewer than two endpoints have a weight from reports.
	Enabled bool

	// BlackoutPeriod is how long an endpoint reports before its weight
	// counts, so a fresh backend's first, unsettled reports do not steer
	// the pool. Zero means 10 s (A58); otherwise 1ms..24h.
	BlackoutPeriod time.Duration

	// ExpirationPeriod is how long a weight lasts without a new report.
	// Zero means 3 minutes (A58); otherwise 1ms..24h.
	ExpirationPeriod time.Duration

	// UpdatePeriod is how often weights are recomputed. Zero means 1 s
	// (A58); otherwise 100ms..24h.
	UpdatePeriod time.Duration

	// ErrorUtilizationPenalty weighs errors against utilization: an
	// endpoint answering e errors a second out of q requests counts as e/q
	// × penalty more utilized. Zero means 1 (A58); otherwise 0.01..1000.
	ErrorUtilizationPenalty float64
}

// Defaults of LoadWeights' zero fields.
const (
	DefaultLoadBlackout   = 10 * time.Second
	DefaultLoadExpiration = 3 * time.Minute
	DefaultLoadUpdate     = time.Second
	DefaultErrorPenalty   = 1.0
)

// Load is what a backend reports about itself, in the fields of gRPC's
// ORCA load report (gRFC A51). Utilizations are fractions of capacity,
// usually 0..1; RPS and EPS are the backend's requests and errors per
// second over its recent past. A zero field is one not reported.
type Load struct {
	CPUUtilization         float64
	MemUtilization         float64
	ApplicationUtilization float64
	RPS                    float64
	EPS                    float64
}

// loadWeighting is LoadWeights resolved; µs durations; off when !on.
type loadWeighting struct {
	on                   bool
	blackout, expiration int64 // µs
	update               time.Duration
	penalty              float64
}

// resolve checks w's limits for a pool of policy and applies defaults.
func (w LoadWeights) resolve(policy Policy) (loadWeighting, error) {
	if !w.Enabled {
		if w != (LoadWeights{}) {
			return loadWeighting{}, fmt.Errorf("%w: LoadWeights fields set without Enabled", ErrConfig)
		}
		return loadWeighting{}, nil
	}
	if policy != WeightedRoundRobin {
		return loadWeighting{}, fmt.Errorf("%w: LoadWeights needs the %v policy, not %v", ErrConfig, WeightedRoundRobin, policy)
	}
	r := loadWeighting{on: true, penalty: DefaultErrorPenalty}
	blackout, err := duration("LoadWeights.BlackoutPeriod", w.BlackoutPeriod, DefaultLoadBlackout)
	if err != nil {
		return r, err
	}
	expiration, err := duration("LoadWeights.ExpirationPeriod", w.ExpirationPeriod, DefaultLoadExpiration)
	if err != nil {
		return r, err
	}
	if r.update, err = duration("LoadWeights.UpdatePeriod", w.UpdatePeriod, DefaultLoadUpdate); err != nil {
		return r, err
	}
	switch {
	case blackout < time.Millisecond || expiration < time.Millisecond:
		return r, fmt.Errorf("%w: LoadWeights.BlackoutPeriod %v or ExpirationPeriod %v is under 1ms", ErrConfig, blackout, expiration)
	case r.update < 100*time.Millisecond:
		return r, fmt.Errorf("%w: LoadWeights.UpdatePeriod %v is under 100ms", ErrConfig, r.update)
	}
	r.blackout, r.expiration = micros(blackout), micros(expiration)
	switch p := w.ErrorUtilizationPenalty; {
	case p == 0:
	case !(p >= 0.01 && p <= 1000):
		return loadWeighting{}, fmt.Errorf("%w: LoadWeights.ErrorUtilizationPenalty %v is outside 0.01..1000 (0 means %v)", ErrConfig, p, DefaultErrorPenalty)
	default:
		r.penalty = p
	}
	return r, nil
}

// ReportLoad records load, the report the lease's endpoint sent with its
// answer, for LoadWeights: call it when the answer arrives, before Done
// (Done clears the lease; a copy taken before Done may report after it).
// On a pool without LoadWeights, for a removed endpoint, or for a zero or
// finished Lease it does nothing. It takes no lock and allocates nothing.
func (l Lease) ReportLoad(load Load) {
	if l.pool != nil && l.c != nil && l.pool.cfg.loadWeights.on {
		l.pool.reportLoad(l.c, load)
	}
}

// ReportLoad records load for the pool's endpoint at addr as
// Lease.ReportLoad does, for reports that come without a request: ORCA's
// out-of-band stream, a health check's answer. It takes the membership
// lock. An addr that is not in the pool is an error wrapping ErrAddress;
// on a pool without LoadWeights it does nothing.
func (p *Pool) ReportLoad(addr string, load Load) error {
	if !p.cfg.loadWeights.on {
		return nil
	}
	p.mu.Lock()
	c, ok := p.index[addr]
	p.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %q is not in the pool", ErrAddress, addr)
	}
	p.reportLoad(c, load)
	return nil
}

// loadState is one endpoint's LoadWeights state, in its meter. ReportLoad
// writes the first three words, the weigher the last two; each word is
// atomic, the set is not. Two reports racing on one endpoint may leave the
// weight of either with the time of the other: both are fresh, which is
// all the weigher asks of them.
type loadState struct {
	weight atomic.Uint64 // the latest report's weight, float64 bits
	at     atomic.Int64  // health-clock time of the latest report; 0: none yet
	since  atomic.Int64  // health-clock time the current run of reports began (A58's non_empty_since)

	share   atomic.Uint64 // the weight the table uses, scaled to 1..MaxWeight; 0: none, the table gives it the mean
	inForce atomic.Uint64 // the weight in force, float64 bits, for EndpointStatus.LoadWeight
}

// reportLoad keeps c's latest report for the weigher. A58 restarts an
// endpoint's blackout when its weight expires; here the report that ends
// a gap of ExpirationPeriod or more starts the new run, which is the same
// rule with one writer of since instead of two.
func (p *Pool) reportLoad(c *core, load Load) {
	m := c.meter
	if m == nil || stateOf(c.health.Load()) == stateRemoved {
		return
	}
	w, ok := p.cfg.loadWeights.weigh(load)
	if !ok {
		return
	}
	now := max(p.now(), 1) // 0 is "no report yet"
	m.load.weight.Store(math.Float64bits(w))
	if last := m.load.at.Swap(now); last == 0 || now-last >= p.cfg.loadWeights.expiration {
		m.load.since.Store(now)
	}
}

// weigh is A58's weight of one report, RPS / (utilization + EPS/RPS ×
// penalty), and false for a report that carries none: no RPS, no
// utilization, or fields that are not finite. A negative EPS counts as 0.
func (w *loadWeighting) weigh(load Load) (float64, bool) {
	u := load.ApplicationUtilization
	if !(u > 0) {
		u = load.CPUUtilization
	}
	if !(u > 0) || !(load.RPS > 0) {
		return 0, false
	}
	eps := load.EPS
	if !(eps > 0) {
		eps = 0
	}
	weight := load.RPS / (u + eps/load.RPS*w.penalty)
	return weight, weight > 0 && !math.IsInf(weight, 0)
}

// current is the weight m's reports give it at now: 0 without a report,
// once its last report is ExpirationPeriod old, and until its run of
// reports is BlackoutPeriod old.
func (w *loadWeighting) current(m *meter, now int64) float64 {
	at := m.load.at.Load()
	if at == 0 || now-at >= w.expiration || now-m.load.since.Load() < w.blackout {
		return 0
	}
	return math.Float64frombits(m.load.weight.Load())
}

// weigher is the timer that recomputes a pool's load weights every
// UpdatePeriod, from New until Close; pools without LoadWeights have none.
type weigher struct {
	mu     sync.Mutex
	timer  *time.Timer
	closed bool
	buf    []float64 // current weights, reused from one update to the next
}

// startWeighing starts the weigher of a pool with LoadWeights.
func (p *Pool) startWeighing() {
	if !p.cfg.loadWeights.on {
		return
	}
	w := &p.weigh
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(p.cfg.loadWeights.update, p.reweigh)
}

// stopWeighing stops the weigher for good (Close): each endpoint keeps the
// weight it has.
func (p *Pool) stopWeighing() {
	w := &p.weigh
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// reweigh is the weigher's run: it applies the weights of now, then runs
// again after UpdatePeriod unless the pool was closed.
func (p *Pool) reweigh() {
	w := &p.weigh
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	p.mu.Lock()
	p.applyLoadWeights(p.now())
	p.mu.Unlock()
	w.timer.Reset(p.cfg.loadWeights.update)
}

// applyLoadWeights gives every endpoint its weight by A58: its current
// weight, or the mean of the current weights if it has none; with fewer
// than two current weights, all endpoints share equally. The weights are
// scaled so that the largest is MaxWeight, and a new table is published,
// with one atomic store (and the zones' tables with it, under Zones), if
// any scaled weight changed. Under p.mu, as every publish: the table and
// the shares it was built from change together, and endpoints removed
// meanwhile are not in the view.
func (p *Pool) applyLoadWeights(now int64) {
	v := p.view.Load()
	ws := p.weigh.buf[:0]
	var sum, top float64
	n := 0
	for _, c := range v.cores {
		w := p.cfg.loadWeights.current(c.meter, now)
		if w > 0 {
			sum, top, n = sum+w, max(top, w), n+1
		}
		ws = append(ws, w)
	}
	p.weigh.buf = ws
	mean := 0.0
	if n >= 2 {
		mean = sum / float64(n)
	}
	changed := false
	for i, c := range v.cores {
		var share uint64
		inForce := mean // 0 with fewer than two weights: the static weights
		if w := ws[i]; w > 0 && n >= 2 {
			share, inForce = max(uint64(math.Round(w/top*MaxWeight)), 1), w
		}
		m := &c.meter.load
		changed = m.share.Swap(share) != share || changed
		m.inForce.Store(math.Float64bits(inForce))
	}
	if changed {
		p.install(change{reweighed: true}, v)
		if p.cfg.zones.on {
			p.rezone(v) // each zone's table weighs by the same shares
		}
	}
}

// loadCumulative is a load-weighted table's cumulative weights: each
// endpoint's share, or the mean share for one without (a newcomer, or one
// without a current weight); with fewer than two shares, as after
// removals, each weighs its Endpoint.Weight.
func loadCumulative(slots []*slot) []uint64 {
	var sum, n uint64
	for _, s := range slots {
		if w := s.meter.load.share.Load(); w > 0 {
			sum, n = sum+w, n+1
		}
	}
	mean := uint64(1)
	if n >= 2 {
		mean = max((sum+n/2)/n, 1)
	}
	cumulative := make([]uint64, len(slots))
	var total uint64
	for i, s := range slots {
		w := s.meter.load.share.Load()
		switch {
		case n < 2:
			w = uint64(s.weight.Load())
		case w == 0:
			w = mean
		}
		total += w
		cumulative[i] = total
	}
	return cumulative
}
