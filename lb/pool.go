package lb

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/perproc"
	"golang.org/x/sys/cpu"
)

// Pool is a set of endpoints and the policy that picks among them. All
// methods are safe for concurrent use. Pick and Lease.Done take no lock and
// allocate nothing; membership changes serialise among themselves and
// publish a new table with one atomic store, so they never stall a Pick.
type Pool struct {
	// Read by every Pick.
	due      atomic.Uint32 // dueNone, dueRaised or dueScanning
	policy   Policy
	mode     leaseMode // what a lease carries beyond its endpoint's in-flight count
	tables   tables    // the current table of the pool's policy
	limit    int64     // Config.MaxConcurrency; 0: none. With an adaptive limit, its cap
	adaptive bool      // Config.AdaptiveConcurrency: each endpoint's limit is its meter's
	_        cpu.CacheLinePad

	counts counters
	queue  queue // PickWait's waiters
	stats  stats

	name  string              // in a Registry, for events
	hub   atomic.Pointer[hub] // event delivery, while anybody listens
	subMu sync.Mutex          // serialises starting and stopping the hub

	cfg     settings
	epoch   time.Time // the health clock's zero
	wake    *time.Timer
	armedAt atomic.Int64         // deadline the wake timer is set for, or never
	view    atomic.Pointer[view] // every member, in table order, and its health index

	detect  detector    // outlier detection's state (outlier.go)
	ramp    ramp        // slow start's (slowstart.go)
	adaptMu sync.Mutex  // serialises the adaptive limit's evaluations with Close
	adapt   *time.Timer // runs evaluate every adaptInterval; nil without an adaptive limit
	weigh   weigher     // LoadWeights' timer (loadweights.go)

	subset  subsetState             // subsetting's memory of what the pool was given (subset.go)
	zones   atomic.Pointer[zoneSet] // zone-aware routing's tables and route (zone.go); nil without Zones
	routeMu sync.Mutex              // serialises the route's updates (reroute)
	zoneOf  map[string]string       // address -> zone, under mu

	moves moves            // health transitions, for publish's copy of the view
	mu    sync.Mutex       // serialises membership changes
	index map[string]*core // address -> endpoint; its position is core.index
}

// counters are the pool-wide counts that policies may read: a table holds
// a pointer to its pool's, never the pool itself.
type counters struct {
	total   perproc.Sum // leases in flight over the pool, kept at Pick and Done for policies that read it (ConsistentHash)
	_       cpu.CacheLinePad
	ejected atomic.Int32 // endpoints ejected or probing
}

// tableEnv is what a policy's table may read of its pool when it is built.
type tableEnv struct {
	cfg    *settings
	counts *counters
	change change // from the table it replaces (in the view that table had)
	// For work finished after setup, as ConsistentHash's background
	// rebuilds: the membership lock, and where its tables are published.
	members   *sync.Mutex
	hashTable *atomic.Pointer[consistentHashTable]
}

func (p *Pool) env() tableEnv {
	return tableEnv{cfg: &p.cfg, counts: &p.counts, members: &p.mu, hashTable: &p.tables.consistentHash}
}

// New returns a pool with the given config and endpoints, each of weight 1.
// An invalid config or address list returns an error wrapping ErrConfig or
// ErrAddress. A pool may start empty; Pick returns ErrNoEndpoint until Add
// gives it endpoints.
func New(cfg Config, addrs ...string) (*Pool, error) {
	return NewWeighted(cfg, weightOne(addrs)...)
}

// NewWeighted is New for endpoints with weights, which WeightedRoundRobin
// follows and the other policies ignore. A zero Weight means 1; a negative
// one, or one over MaxWeight, is an error wrapping ErrAddress.
func NewWeighted(cfg Config, endpoints ...Endpoint) (*Pool, error) {
	return newWeighted(cfg, endpoints, nil)
}

// newWeighted is NewWeighted; before, if not nil, is called on the valid
// pool before its endpoints join, as a Registry attaches its subscriptions.
func newWeighted(cfg Config, endpoints []Endpoint, before func(*Pool)) (*Pool, error) {
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if err := checkEndpoints(endpoints); err != nil {
		return nil, err
	}
	p := &Pool{policy: s.policy, cfg: s, index: make(map[string]*core, len(endpoints)), zoneOf: map[string]string{}}
	if totalPolicies[s.policy] {
		p.counts.total = perproc.NewSum()
	}
	p.epoch = time.Now()
	p.mode, p.limit, p.adaptive = leaseModeOf(s.policy, s.limit, s.adaptive), s.limit, s.adaptive
	p.detect.next.Store(s.outlier.interval)
	p.armedAt.Store(never)
	p.wake = time.AfterFunc(time.Duration(never), p.wakeUp)
	p.wake.Stop()
	p.queue.SetShed(s.waitTarget, s.waitInterval)
	if s.subset.Size != 0 {
		p.subset.given = make(map[string]Endpoint, len(endpoints))
		p.subset.timer = time.AfterFunc(time.Duration(never), p.resubsetNow)
		p.subset.timer.Stop()
	}
	if before != nil {
		before(p)
	}
	p.add(endpoints)
	if s.adaptive {
		p.adaptMu.Lock() // evaluate reads p.adapt under it
		p.adapt = time.AfterFunc(adaptInterval, p.evaluate)
		p.adaptMu.Unlock()
	}
	p.startWeighing()
	return p, nil
}

// Policy returns the pool's policy.
func (p *Pool) Policy() Policy { return p.policy }

// Len returns the number of endpoints in the pool.
func (p *Pool) Len() int { return len(p.view.Load().cores) }

// The pool reads one clock, the monotonic one, and only off the hot path of
// every policy but PeakEWMA:
//   - the health clock (Pool.now), microseconds since the pool's epoch, for
//     cooldown and probe deadlines: read on ejections and probe leases;
//   - the latency clock (nanos), nanoseconds, read only by PeakEWMA's
//     leases to time a sample of their requests (peakewma.go), and by
//     every lease of a pool with an adaptive limit (meter.go).
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
