package lb

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/fastrand"
)

// SlowStart ramps a new endpoint's share of picks, as Envoy's slow start
// does: an endpoint that joins the pool (Add, AddWeighted, Set) a second
// or more after its first endpoint, or is reinstated after an ejection, is
// kept by Pick with probability
//
//	f = max(MinWeightPercent/100, (t / Window)^(1/Aggression))
//
// t after it joined, and otherwise the policy chooses again: its share is
// about f times what the policy would give it, so a backend with a cold
// cache or JIT warms up under a trickle. Keyed picks (PickKey on
// ConsistentHash and Shard) ignore the ramp: a key's endpoint must not
// move. The factor is updated off the hot path every Window/20; a Pick
// reads it only while an endpoint ramps.
type SlowStart struct {
	// Window is how long the ramp lasts. Zero turns slow start off;
	// otherwise 1ms..24h.
	Window time.Duration

	// Aggression shapes the ramp: 1 is linear in time, more gives the
	// endpoint its traffic sooner, less later. Zero means 1 (Envoy's
	// default); otherwise 0.1..10.
	Aggression float64

	// MinWeightPercent is the least share the ramp starts from, as a
	// percentage of the endpoint's full share. Zero means 10 (Envoy's
	// default); otherwise 1..100.
	MinWeightPercent int
}

// slowStart is SlowStart resolved; window 0 is off.
type slowStart struct {
	window     int64 // µs
	aggression float64
	minFactor  float64
}

// resolve checks s's limits and applies its defaults.
func (s SlowStart) resolve() (slowStart, error) {
	if s.Window == 0 {
		if s != (SlowStart{}) {
			return slowStart{}, fmt.Errorf("%w: SlowStart.Aggression or MinWeightPercent without a Window", ErrConfig)
		}
		return slowStart{}, nil
	}
	switch {
	case s.Window < time.Millisecond || s.Window > maxDuration:
		return slowStart{}, fmt.Errorf("%w: SlowStart.Window %v is outside 1ms..24h (0 turns slow start off)", ErrConfig, s.Window)
	case s.Aggression != 0 && !(s.Aggression >= 0.1 && s.Aggression <= 10):
		return slowStart{}, fmt.Errorf("%w: SlowStart.Aggression %v is outside 0.1..10 (0 means 1)", ErrConfig, s.Aggression)
	case s.MinWeightPercent < 0 || s.MinWeightPercent > 100:
		return slowStart{}, fmt.Errorf("%w: SlowStart.MinWeightPercent %d is outside 1..100 (0 means 10)", ErrConfig, s.MinWeightPercent)
	}
	r := slowStart{window: micros(s.Window), aggression: 1, minFactor: 0.1}
	if s.Aggression != 0 {
		r.aggression = s.Aggression
	}
	if s.MinWeightPercent != 0 {
		r.minFactor = float64(s.MinWeightPercent) / 100
	}
	return r, nil
}

// factor is the ramp's f at t µs after the endpoint joined, in units of
// rampOne.
func (s *slowStart) factor(t int64) uint32 {
	f := math.Pow(float64(max(t, 1))/float64(s.window), 1/s.aggression)
	return uint32(min(max(f, s.minFactor), 1) * rampOne)
}

// rampOne is a ramp factor of 1, the full share.
const rampOne = 1 << 16

// rampSettle is how long after a pool's first endpoint others join it
// without ramping: the pool is filling up.
const rampSettle = time.Second

// ramp is a pool's slow-start state: the endpoints ramping and the timer
// that steps their factors, under mu; Pool.due's dueRamping bit is set
// while there are any, for Pick.
type ramp struct {
	count   atomic.Int32 // endpoints ramping, for tests and status
	mu      sync.Mutex
	firstAt int64 // health-clock time the pool first had an endpoint
	cores   []*core
	timer   *time.Timer
	running bool
	closed  bool
}

// startRamp starts c's ramp from its minimum: on joining, and on
// reinstatement. It does nothing without slow start, and for an endpoint
// joining within rampSettle of the pool's first: a pool filling up (New's
// endpoints, a resolver's first answers, connections becoming ready one by
// one) has no warm endpoints to spare.
func (p *Pool) startRamp(c *core, joining bool) {
	s := &p.cfg.slowStart
	if s.window == 0 || c.meter == nil {
		return
	}
	r := &p.ramp
	r.mu.Lock()
	defer r.mu.Unlock()
	now := max(p.now(), 1)
	if r.firstAt == 0 {
		r.firstAt = now
	}
	if joining && now-r.firstAt < min(s.window, micros(rampSettle)) {
		return
	}
	m := c.meter
	if m.rampFrom.Swap(now) == 0 {
		r.cores = append(r.cores, c)
		p.setRamping(len(r.cores))
	}
	m.ramp.Store(s.factor(0))
	if !r.running && !r.closed {
		r.running = true
		if r.timer == nil {
			r.timer = time.AfterFunc(p.rampStep(), p.stepRamps)
		} else {
			r.timer.Reset(p.rampStep())
		}
	}
}

// rampStep is how often ramps are stepped: a twentieth of the window, and
// at least a millisecond.
func (p *Pool) rampStep() time.Duration {
	return max(time.Duration(p.cfg.slowStart.window)*time.Microsecond/20, time.Millisecond)
}

// stepRamps updates every ramping endpoint's factor, ends the ramps that
// are over (and those of endpoints removed), and runs again while any is
// left.
func (p *Pool) stepRamps() {
	r := &p.ramp
	r.mu.Lock()
	defer r.mu.Unlock()
	now := p.now()
	left := r.cores[:0]
	for _, c := range r.cores {
		m := c.meter
		t := now - m.rampFrom.Load()
		if t >= p.cfg.slowStart.window || stateOf(c.health.Load()) == stateRemoved {
			m.ramp.Store(rampOne)
			m.rampFrom.Store(0)
			continue
		}
		m.ramp.Store(p.cfg.slowStart.factor(t))
		left = append(left, c)
	}
	clear(r.cores[len(left):])
	r.cores = left
	p.setRamping(len(left))
	if r.running = len(left) > 0 && !r.closed; r.running {
		r.timer.Reset(p.rampStep())
	}
}

// setRamping records that n endpoints ramp: Pick tests Pool.due's
// dueRamping bit, set while n is not zero.
func (p *Pool) setRamping(n int) {
	p.ramp.count.Store(int32(n))
	if n > 0 {
		p.due.Or(dueRamping)
	} else {
		p.due.And(^uint32(dueRamping))
	}
}

// stopRamps ends the ramps for good (Close): each endpoint keeps the share
// it has.
func (p *Pool) stopRamps() {
	r := &p.ramp
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.timer != nil {
		r.timer.Stop()
	}
}

// ramped applies the ramp to the policy's choice c: c is kept with
// probability its factor; turned down, the pick goes to the policy's next
// choice if that is another endpoint, else to a uniform draw among the
// others that are up. (Asking the policy again alone would not do: least
// loaded, or P2C with a fresh idle endpoint, would choose c again.) So c's
// share is its factor times the policy's.
func (p *Pool) ramped(c *core) *core {
	if c == nil || c.meter == nil {
		return c
	}
	if f := c.meter.ramp.Load(); f >= rampOne || uint32(fastrand.Uint63())%rampOne < f {
		return c
	}
	if d := p.pickRouted(); d != nil && d != c {
		return d
	}
	cores := p.view.Load().cores
	if i := drawWhere(cores, func(_ int, o *core) bool { return o != c && o.pickable() }); i >= 0 {
		return cores[i]
	}
	return c
}
