package lb

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/cpu"
)

// Pool is a set of endpoints and the policy that picks among them. All
// methods are safe for concurrent use. Pick and Lease.Done take no lock and
// allocate nothing; Add and Remove serialise among themselves and publish a
// new table with one atomic store, so they never stall a Pick.
type Pool struct {
	// Read by every Pick.
	due     atomic.Uint32 // dueNone, dueRaised or dueScanning
	policy  Policy
	extras  bool   // timed || counted: leases carry extras
	timed   bool   // leases carry a start time (PeakEWMA)
	counted bool   // leases count in total (ConsistentHash)
	tables  tables // the current table of the pool's policy
	_       cpu.CacheLinePad

	total atomic.Int64 // leases in flight over the pool, kept by counted policies
	_     cpu.CacheLinePad

	cfg     settings
	epoch   time.Time
	now     func() int64 // the health clock, µs since epoch; tests count its reads
	nanos   func() int64 // the latency clock, ns, for PeakEWMA leases; tests fake it
	wake    *time.Timer
	armedAt atomic.Int64         // deadline the wake timer is set for, or never
	ejected atomic.Int32         // endpoints ejected or probing
	view    atomic.Pointer[view] // every member, in table order, and its health index

	mu      sync.Mutex // serialises membership changes
	members []member
	index   map[string]int // address -> position in members
}

// member is one endpoint as the membership code sees it: its core, and the
// policy's slot holding that core, kept to rebuild the policy's table.
type member struct {
	c    *core
	slot any
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
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if err := checkEndpoints(endpoints); err != nil {
		return nil, err
	}
	p := &Pool{policy: s.policy, cfg: s, epoch: time.Now(), index: make(map[string]int, len(endpoints))}
	p.timed, p.counted = timedPolicies[s.policy], countedPolicies[s.policy]
	p.extras = p.timed || p.counted
	p.now = p.monotonic
	p.nanos = nanotime
	p.armedAt.Store(never)
	p.wake = time.AfterFunc(time.Duration(never), p.wakeUp)
	p.wake.Stop()
	p.add(endpoints)
	return p, nil
}

// Endpoint is an address with a weight, for NewWeighted and AddWeighted.
type Endpoint struct {
	Addr   string
	Weight int // 0 means 1
}

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
		if e.Addr == "" {
			return fmt.Errorf("%w: address %d is empty", ErrAddress, i)
		}
		if _, dup := seen[e.Addr]; dup {
			return fmt.Errorf("%w: %q given twice", ErrAddress, e.Addr)
		}
		if e.Weight < 0 || e.Weight > MaxWeight {
			return fmt.Errorf("%w: %q has weight %d, outside 0..%d", ErrAddress, e.Addr, e.Weight, MaxWeight)
		}
		seen[e.Addr] = struct{}{}
	}
	return nil
}

// Pick leases an endpoint. A due probe is served first: once an ejected
// endpoint's cooldown has passed, exactly one Pick receives it; all other
// Picks choose among the endpoints that are up, by the pool's policy. Pick
// returns ErrNoEndpoint when the pool is empty, or when every endpoint is
// ejected and none is due for a probe.
//
// Every lease must be ended with Done, once.
func (p *Pool) Pick() (Lease, error) {
	if p.due.Load() != dueNone {
		return p.pickProbeFirst()
	}
	c := p.pick()
	if c == nil || p.extras {
		return p.lease(c)
	}
	c.inflight.Add(1)
	return Lease{c: c, pool: p}, nil
}

// pickProbeFirst is Pick when an ejected endpoint may be due.
func (p *Pool) pickProbeFirst() (Lease, error) {
	if l, ok := p.leaseProbe(); ok {
		return l, nil
	}
	return p.lease(p.pick())
}

// lease hands out a lease on c, or ErrNoEndpoint for nil. Pick inlines its
// common case.
func (p *Pool) lease(c *core) (Lease, error) {
	if c == nil {
		return Lease{}, ErrNoEndpoint
	}
	c.inflight.Add(1)
	if p.extras {
		return p.leaseWithExtras(c), nil
	}
	return Lease{c: c, pool: p}, nil
}

// leaseWithExtras records what some policies keep per lease. It builds the
// Lease by value: taking a Lease's address on this path puts it on the stack
// and costs a store-forwarding stall on every Pick.
func (p *Pool) leaseWithExtras(c *core) Lease {
	extras := int64(1)
	if p.timed {
		extras = p.nanos()
	}
	if p.counted {
		p.total.Add(1)
	}
	return Lease{c: c, pool: p, extras: extras}
}

// Add adds endpoints of weight 1, each up and with no history. An address
// already in the pool is left as it is, with its counters, health and
// weight. An empty address or one given twice in the call is an error
// wrapping ErrAddress, and then nothing is added.
func (p *Pool) Add(addrs ...string) error { return p.AddWeighted(weightOne(addrs)...) }

// AddWeighted is Add for endpoints with weights; see NewWeighted.
func (p *Pool) AddWeighted(endpoints ...Endpoint) error {
	if err := checkEndpoints(endpoints); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.add(endpoints)
	return nil
}

func (p *Pool) add(endpoints []Endpoint) {
	fresh := make([]Endpoint, 0, len(endpoints))
	for _, e := range endpoints {
		if _, ok := p.index[e.Addr]; !ok {
			fresh = append(fresh, e)
		}
	}
	if len(fresh) > 0 || p.view.Load() == nil {
		p.publish(append(p.members[:len(p.members):len(p.members)], newMembers(p.policy, fresh)...))
	}
}

// Remove removes endpoints. Once Remove returns, no Pick hands them out;
// leases already on them end normally, and their Done changes nothing else.
// Addresses not in the pool are ignored. An empty address is an error
// wrapping ErrAddress, and then nothing is removed. Adding an address again
// later starts it fresh.
func (p *Pool) Remove(addrs ...string) error {
	for i, a := range addrs {
		if a == "" {
			return fmt.Errorf("%w: address %d is empty", ErrAddress, i)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	gone := make(map[*core]bool, len(addrs))
	for _, a := range addrs {
		if i, ok := p.index[a]; ok {
			gone[p.members[i].c] = true
		}
	}
	if len(gone) == 0 {
		return nil
	}
	kept := make([]member, 0, len(p.members)-len(gone))
	for _, m := range p.members {
		if !gone[m.c] {
			kept = append(kept, m)
		}
	}
	p.publish(kept)
	for c := range gone {
		p.retire(c)
	}
	return nil
}

// Set makes endpoints the pool's whole membership, in one publish: an
// address already in the pool keeps its counters and health (a changed
// weight applies in place), a new one starts up with no history, and one
// left out is removed as by Remove. A zero Weight means 1. An empty
// address, one given twice or a weight outside 0..MaxWeight is an error
// wrapping ErrAddress, and then nothing changes.
func (p *Pool) Set(endpoints ...Endpoint) error {
	if err := checkEndpoints(endpoints); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	want := make(map[string]uint32, len(endpoints))
	for _, e := range endpoints {
		want[e.Addr] = uint32(max(e.Weight, 1))
	}
	kept := make([]member, 0, len(endpoints))
	var gone []*core
	reweighed := false
	for _, m := range p.members {
		w, ok := want[m.c.addr]
		if !ok {
			gone = append(gone, m.c)
			continue
		}
		if m.c.weight.Load() != w {
			m.c.weight.Store(w)
			reweighed = true
		}
		kept = append(kept, m)
	}
	fresh := make([]Endpoint, 0, len(endpoints))
	for _, e := range endpoints {
		if _, ok := p.index[e.Addr]; !ok {
			fresh = append(fresh, e)
		}
	}
	if len(gone) == 0 && len(fresh) == 0 && !reweighed {
		return nil
	}
	p.publish(append(kept, newMembers(p.policy, fresh)...))
	for _, c := range gone {
		p.retire(c)
	}
	return nil
}

// retire marks a removed endpoint so that late outcomes of its leases change
// nothing, and gives back its place in the ejection budget.
func (p *Pool) retire(c *core) {
	for {
		h := c.health.Load()
		if c.health.CompareAndSwap(h, stateRemoved) {
			if s := stateOf(h); s == stateEjected || s == stateProbing {
				p.ejected.Add(-1)
			}
			return
		}
	}
}

// publish installs members as the pool's membership: the view and the
// policy's table, each behind one atomic pointer. Callers hold p.mu.
//
// Health transitions that race with it track themselves in whichever view
// they find; the final pass here tracks every slot of the new view after
// every endpoint knows its place in it, which covers the transitions that
// found the old one.
func (p *Pool) publish(members []member) {
	v := newView(members)
	for i := range v.cores {
		v.trackSlot(i) // before readers can see the view
	}
	clear(p.index)
	p.members = members
	p.view.Store(v)
	for i, m := range members {
		p.index[m.c.addr] = i
		m.c.index.Store(int32(i))
	}
	p.install(members)
	for i := range v.cores {
		v.trackSlot(i)
	}
}

// Policy returns the pool's policy.
func (p *Pool) Policy() Policy { return p.policy }

// Len returns the number of endpoints in the pool.
func (p *Pool) Len() int { return len(p.view.Load().cores) }
