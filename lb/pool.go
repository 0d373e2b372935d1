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
	due    atomic.Uint32 // dueNone, dueRaised or dueScanning
	policy Policy
	tables tables // the current table of the pool's policy
	_      cpu.CacheLinePad

	cfg     settings
	epoch   time.Time
	now     func() int64 // the monotonic clock; replaced by tests that count reads
	wake    *time.Timer
	armedAt atomic.Int64            // deadline the wake timer is set for, or never
	ejected atomic.Int32            // endpoints ejected or probing
	all     atomic.Pointer[[]*core] // every member, in order: for scans and snapshots

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

// New returns a pool with the given config and endpoints. An invalid config
// or address list returns an error wrapping ErrConfig or ErrAddress. A pool
// may start empty; Pick returns ErrNoEndpoint until Add gives it endpoints.
func New(cfg Config, addrs ...string) (*Pool, error) {
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	if err := checkAddrs(addrs); err != nil {
		return nil, err
	}
	p := &Pool{policy: s.policy, cfg: s, epoch: time.Now(), index: make(map[string]int, len(addrs))}
	p.now = p.monotonic
	p.armedAt.Store(never)
	p.wake = time.AfterFunc(time.Duration(never), p.wakeUp)
	p.wake.Stop()
	p.add(addrs)
	return p, nil
}

// checkAddrs rejects empty addresses and an address given twice.
func checkAddrs(addrs []string) error {
	seen := make(map[string]struct{}, len(addrs))
	for i, a := range addrs {
		if a == "" {
			return fmt.Errorf("%w: address %d is empty", ErrAddress, i)
		}
		if _, dup := seen[a]; dup {
			return fmt.Errorf("%w: %q given twice", ErrAddress, a)
		}
		seen[a] = struct{}{}
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
		if l, ok := p.leaseProbe(); ok {
			return l, nil
		}
	}
	c := p.pick()
	if c == nil {
		return Lease{}, ErrNoEndpoint
	}
	c.inflight.Add(1)
	return Lease{c: c, pool: p}, nil
}

// Add adds endpoints, each up and with no history. An address already in
// the pool is left as it is, with its counters and health. An empty address
// or one given twice in the call is an error wrapping ErrAddress, and then
// nothing is added.
func (p *Pool) Add(addrs ...string) error {
	if err := checkAddrs(addrs); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.add(addrs)
	return nil
}

func (p *Pool) add(addrs []string) {
	fresh := make([]member, 0, len(addrs))
	for _, a := range addrs {
		if _, ok := p.index[a]; ok {
			continue
		}
		fresh = append(fresh, newMember(p.policy, a))
	}
	if len(fresh) > 0 || p.all.Load() == nil {
		p.publish(append(p.members[:len(p.members):len(p.members)], fresh...))
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

// publish installs members as the pool's membership: the scan list and the
// policy's table, each behind one atomic pointer. Callers hold p.mu.
func (p *Pool) publish(members []member) {
	all := make([]*core, len(members))
	clear(p.index)
	for i, m := range members {
		all[i] = m.c
		p.index[m.c.addr] = i
	}
	p.members = members
	p.all.Store(&all)
	p.install(members)
}

// Policy returns the pool's policy.
func (p *Pool) Policy() Policy { return p.policy }

// Len returns the number of endpoints in the pool.
func (p *Pool) Len() int { return len(*p.all.Load()) }
