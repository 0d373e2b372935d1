package lb

import (
	"fmt"
	"maps"
	"math"
	"time"
)

// Endpoint is an address with a weight, for NewWeighted, AddWeighted and
// Set.
type Endpoint struct {
	Addr   string
	Weight int // 0 means 1; at most MaxWeight
	// Zone is the endpoint's locality (an availability zone, a rack), for
	// Config.Zones; "" is a zone of its own. At most MaxZoneLen bytes.
	Zone string
}

// MaxZoneLen is the longest Endpoint.Zone.
const MaxZoneLen = 256

// MaxWeight is the largest endpoint weight.
const MaxWeight = 1 << 20

func weightOne(addrs []string) []Endpoint {
	out := make([]Endpoint, len(addrs))
	for i, a := range addrs {
		out[i] = Endpoint{Addr: a, Weight: 1}
	}
	return out
}

// checkEndpoints rejects empty addresses, an address given twice, and
// weights outside 0..MaxWeight.
func checkEndpoints(endpoints []Endpoint) error {
	seen := make(map[string]struct{}, len(endpoints))
	for i, e := range endpoints {
		if err := checkEndpoint(i, e); err != nil {
			return err
		}
		if _, dup := seen[e.Addr]; dup {
			return fmt.Errorf("%w: %q given twice", ErrAddress, e.Addr)
		}
		seen[e.Addr] = struct{}{}
	}
	return nil
}

// checkEndpoint rejects the i-th endpoint of a call if its address is empty
// or its weight outside 0..MaxWeight.
func checkEndpoint(i int, e Endpoint) error {
	if e.Addr == "" {
		return fmt.Errorf("%w: address %d is empty", ErrAddress, i)
	}
	if e.Weight < 0 || e.Weight > MaxWeight {
		return fmt.Errorf("%w: %q has weight %d, outside 0..%d", ErrAddress, e.Addr, e.Weight, MaxWeight)
	}
	if len(e.Zone) > MaxZoneLen {
		return fmt.Errorf("%w: %q has a zone of %d bytes, over %d", ErrAddress, e.Addr, len(e.Zone), MaxZoneLen)
	}
	return nil
}

// State is an endpoint's passive-health state.
type State uint8

// Endpoint states.
const (
	// Up endpoints are chosen by the pool's policy.
	Up State = iota // up
	// Ejected endpoints failed Config.EjectAfter times in a row and wait out
	// their cooldown; once it passes, the next Pick probes them.
	Ejected // ejected
	// Probing endpoints are leased to a single probe request whose outcome
	// decides whether they are reinstated or ejected again.
	Probing // probing
)

// EndpointStatus is a snapshot of one endpoint, as returned by
// Pool.Endpoints.
type EndpointStatus struct {
	Addr     string
	Weight   int
	Zone     string
	State    State
	InFlight int64 // leases not yet Done
	// Limit is the endpoint's concurrency limit now: MaxConcurrency, or
	// under AdaptiveConcurrency the limit its latency set; 0 for none.
	Limit  int64
	Streak int // consecutive failures, ended by a success
	// Ejections counts ejections in a row without a success in between; it
	// doubles each cooldown.
	Ejections int
	// Until is when the cooldown ends (Ejected) or the probe's lease expires
	// (Probing); zero when Up. An Ejected endpoint whose Until has passed is
	// due: the next Pick probes it.
	Until time.Time
	// Reason is why an Ejected or Probing endpoint was ejected.
	Reason EjectReason
	// Requests is the endpoint's requests (cancelled ones not counted) in
	// outlier detection's last evaluated interval, and SuccessRate the
	// share that succeeded in the last evaluated interval that had any (1
	// before one). Requests stays 0 with Config.Outlier.Off.
	Requests    int64
	SuccessRate float64
	// LoadWeight is the weight Config.LoadWeights gives the endpoint as of
	// its last update: its own, RPS / (utilization + EPS/RPS × penalty),
	// or the mean of the others' if it has none yet or any more. It is 0
	// without LoadWeights, and while fewer than two endpoints have a
	// weight (the pool is then round robin).
	LoadWeight float64
}

// Endpoints returns a snapshot of every endpoint, in the order they were
// added. Each endpoint's fields are read atomically, not the set as a whole.
func (p *Pool) Endpoints() []EndpointStatus {
	p.mu.Lock()
	zoneOf := maps.Clone(p.zoneOf)
	p.mu.Unlock()
	cores := p.view.Load().cores
	out := make([]EndpointStatus, 0, len(cores))
	for _, c := range cores {
		h := c.health.Load()
		s := stateOf(h)
		if s == stateRemoved {
			continue
		}
		e := EndpointStatus{
			Addr:      *c.addr,
			Weight:    int(c.weight.Load()),
			Zone:      zoneOf[*c.addr],
			State:     State(s),
			InFlight:  c.inFlight(),
			Limit:     p.limitOf(c),
			Streak:    int(streakOf(h)),
			Ejections: int(ejectionsOf(h)),
		}
		if s != stateUp {
			e.Until = p.epoch.Add(time.Duration(deadlineOf(h)) * time.Microsecond)
		}
		e.SuccessRate = 1
		if m := c.meter; m != nil {
			e.Requests, e.SuccessRate = int64(m.requests.Load()), math.Float64frombits(m.rate.Load())
			e.LoadWeight = math.Float64frombits(m.load.inForce.Load())
			if s != stateUp {
				e.Reason = EjectReason(m.reason.Load())
			}
		}
		out = append(out, e)
	}
	return out
}
