package lb

import (
	"context"
	"slices"

	"github.com/nanolb/nanolb/internal/keyhash"
	"github.com/nanolb/nanolb/internal/perproc"
)

// Pick leases an endpoint: a due probe first (exactly one Pick receives
// each), else the policy's choice among the endpoints that are up, else,
// below MaxEjectedPercent 100, the one whose cooldown ends first (panic
// mode). It returns ErrNoEndpoint only for an empty pool, or at 100% with
// every endpoint ejected and none due. Every lease must be ended with
// Done, once.
func (p *Pool) Pick() (Lease, error) {
	var c *core
	switch p.due.Load() {
	case dueNone:
		c = p.pick()
	case dueZoned:
		c = p.pickZoned()
	default: // a probe may be due, or an endpoint ramps
		return p.probeOrPick(0, false)
	}
	if c == nil || p.mode != leaseBare {
		return p.lease(c)
	}
	c.leases.Add(1)
	return Lease{c: c, pool: p}, nil
}

// PickKey leases the endpoint for key: on ConsistentHash the same one while
// membership is unchanged, unless it is out or at the load bound; on Shard
// only ever the key's shard, or ErrShardDown; other policies ignore it.
// PickKey(key) is PickKeyUint64(H(key)) for a fixed hash H specified in
// docs/design-hashing.md (H("user-12345") = 0x17d3ed2bab2b0728), so every
// process routes a key alike whatever its language.
func (p *Pool) PickKey(key string) (Lease, error) {
	h := keyhash.Mix64(keyhash.String(key))
	if p.policy == Shard {
		return p.pickShard(h)
	}
	return p.pickHash(h)
}

// PickKeyUint64 is PickKey for a numeric key, such as a user ID or an
// already hashed value.
func (p *Pool) PickKeyUint64(key uint64) (Lease, error) {
	if p.policy == Shard {
		return p.pickShard(keyhash.Mix64(key)) // strict: its own probe and no last resort (shard.go)
	}
	return p.pickHash(keyhash.Mix64(key))
}

// pickHash is PickKey on a pool of any policy but Shard, for the key's
// routing hash h. On ConsistentHash it looks the key up itself, with the
// table's common case (idleOwner) inlined, instead of through the policy
// switch.
func (p *Pool) pickHash(h uint64) (Lease, error) {
	if p.probeState() != dueNone {
		return p.probeOrPick(h, true)
	}
	if p.policy != ConsistentHash {
		return p.lease(p.pickKey(h))
	}
	t := p.tables.consistentHash.Load()
	c := t.idleOwner(h)
	if c == nil {
		c = t.pickKeyBusy(h)
	}
	return p.lease(c)
}

// probeOrPick is Pick (or, keyed, PickKey for key hash h) when an ejected
// endpoint may be due: a due probe first, else the policy's choice.
func (p *Pool) probeOrPick(h uint64, keyed bool) (Lease, error) {
	if p.limit != 0 && p.queue.waiting() {
		return p.refuse()
	}
	if l, ok := p.leaseProbe(); ok {
		return l, nil
	}
	if keyed {
		return p.lease(p.pickKey(h))
	}
	return p.lease(p.choose())
}

// choose is the policy's choice for an unkeyed pick, with slow start's
// ramp applied while any endpoint ramps.
func (p *Pool) choose() *core {
	c := p.pickRouted()
	if p.due.Load()&dueRamping != 0 {
		c = p.ramped(c)
	}
	return c
}

// pickRouted is the policy's choice, within a zone while picks route by
// zone.
func (p *Pool) pickRouted() *core {
	if p.due.Load()&dueZoned != 0 {
		return p.pickZoned()
	}
	return p.pick()
}

// lease hands out a lease on the policy's choice c; for nil, the policy
// found nothing up, and lastResort decides. On a pool with a concurrency
// limit a new Pick does not overtake PickWait's queue. Pick inlines its
// common case.
func (p *Pool) lease(c *core) (Lease, error) {
	if p.limit != 0 && p.queue.waiting() {
		return p.refuse()
	}
	if c != nil {
		switch p.mode {
		case leaseLimit: // under the limit: the common case
			if p.admit(c) {
				return Lease{c: c, pool: p}, nil
			}
		case leaseTotal: // Sum.Add, which is over the inlining budget
			c.leases.Add(1)
			p.counts.total.AddOn(perproc.Pin(), 1)
			perproc.Unpin()
			return Lease{c: c, pool: p}, nil
		}
	}
	var l Lease
	var err error
	if c == nil {
		l, err = p.lastResort()
	} else {
		l, err = p.leaseOn(c)
	}
	if err == ErrSaturated {
		return p.refuse()
	}
	return l, err
}

// leaseOn leases c, or under a concurrency limit, if c is at it, the
// policy's choice among the endpoints below theirs (belowLimit).
func (p *Pool) leaseOn(c *core) (Lease, error) {
	if !p.take(c) {
		if c = p.belowLimit(); c == nil {
			return Lease{}, ErrSaturated
		}
	}
	return p.newLease(c, 0), nil
}

// take adds a lease to c's in-flight count, within the concurrency limit
// if there is one; false leaves c as it was.
func (p *Pool) take(c *core) bool {
	if p.limit == 0 {
		c.leases.Add(1)
		return true
	}
	return p.admit(c)
}

// newLease is the lease on c that take counted, with the policy's
// per-lease state; probe is the health word a probe set, or 0.
func (p *Pool) newLease(c *core, probe uint64) Lease {
	l := Lease{c: c, pool: p, probe: probe}
	if p.mode != leaseBare {
		l.mark = p.begin(c)
	}
	return l
}

// exceptTries is how many ordinary picks PickExcept makes before it counts
// the endpoints that are up and not excluded.
const exceptTries = 4

// PickExcept is Pick for a retry: it leases an endpoint that is up and not
// in tried while there is one, so a retry does not land where the request
// failed: the policy's choice if it is not in tried, else a uniform draw
// among those not tried, else the policy's choice among them all. With no
// addresses it is Pick, and plain Pick pays nothing for it.
func (p *Pool) PickExcept(tried ...string) (Lease, error) {
	if len(tried) == 0 {
		return p.Pick()
	}
	for range exceptTries {
		l, err := p.Pick()
		if err != nil || !slices.Contains(tried, *l.c.addr) {
			return l, err
		}
		l.Done(context.Canceled) // neutral: only the in-flight count changes
	}
	cores := p.view.Load().cores
	if i := drawWhere(cores, func(_ int, c *core) bool {
		return c.pickable() && !slices.Contains(tried, *c.addr)
	}); i >= 0 {
		return p.lease(cores[i])
	}
	return p.Pick()
}
