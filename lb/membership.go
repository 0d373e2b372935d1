package lb

import "fmt"

// Membership changes: Add, Remove and Set serialise on p.mu, build the new
// membership by copying the current view's compact arrays (the policy's
// table shares the new view's endpoint array, and builds its own state from
// its predecessor's where it can), and publish it (a view and the table)
// with one atomic store each;
// slots never move, so each endpoint keeps its counters and health across
// changes, and a change touches no slot of an endpoint that stays except
// to renumber those after a removed one.

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
	if p.cfg.subset.Size != 0 {
		for _, e := range endpoints {
			if _, ok := p.subset.given[e.Addr]; !ok {
				p.subset.given[e.Addr] = e
			}
		}
		p.resubset()
		return
	}
	p.addMembers(endpoints)
}

// addMembers adds the endpoints not yet members, and publishes a pool's
// first view even if there are none. Callers hold p.mu.
func (p *Pool) addMembers(endpoints []Endpoint) {
	fresh := make([]Endpoint, 0, len(endpoints))
	for _, e := range endpoints {
		if _, ok := p.index[e.Addr]; !ok {
			fresh = append(fresh, e)
			p.zoneOf[e.Addr] = e.Zone
		}
	}
	if len(fresh) > 0 || p.view.Load() == nil {
		p.publish(change{added: p.newMembers(fresh)})
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
	if p.cfg.subset.Size != 0 {
		for _, a := range addrs {
			delete(p.subset.given, a)
		}
		p.resubset()
		return nil
	}
	var ch change
	for _, a := range addrs {
		if c, ok := p.index[a]; ok {
			if ch.drop == nil {
				ch.drop = make([]bool, len(p.view.Load().cores))
			}
			if i := c.index.Load(); !ch.drop[i] {
				ch.drop[i] = true
				ch.gone++
			}
		}
	}
	if ch.gone > 0 {
		p.publish(ch)
	}
	return nil
}

// Set makes endpoints the pool's whole membership, in one publish: an
// address already in the pool keeps its counters, health, place and a
// changed weight, a new one starts up after them in the order given, and
// one left out is removed as by Remove. A zero Weight means 1. An empty
// address, one given twice or a weight outside 0..MaxWeight is an error
// wrapping ErrAddress, and then nothing changes.
func (p *Pool) Set(endpoints ...Endpoint) error {
	// Discovery tends to send the same list in the same order with a few
	// changes, so each address is first compared with the member after the
	// last one matched, and looked up in the index only when that differs.
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg.subset.Size != 0 {
		if err := checkEndpoints(endpoints); err != nil {
			return err
		}
		p.subset.given = make(map[string]Endpoint, len(endpoints))
		for _, e := range endpoints {
			p.subset.given[e.Addr] = e
		}
		p.resubset()
		return nil
	}
	return p.set(endpoints)
}

// set is Set with p.mu held, on the pool's members.
func (p *Pool) set(endpoints []Endpoint) error {
	cores := p.view.Load().cores
	n := len(cores)
	keep := make([]bool, n)
	var (
		fresh   map[string]struct{} // the new addresses
		added   []Endpoint
		reweigh []reweight
		rezoned []Endpoint // kept endpoints whose zone changed
	)
	kept, next := 0, 0
	for i, e := range endpoints {
		if err := checkEndpoint(i, e); err != nil {
			return err
		}
		k := -1
		if next < n && *cores[next].addr == e.Addr {
			k = next
		} else if c, ok := p.index[e.Addr]; ok {
			k = int(c.index.Load())
		}
		if k < 0 {
			if fresh == nil {
				fresh = make(map[string]struct{})
			}
			if _, dup := fresh[e.Addr]; dup {
				return fmt.Errorf("%w: %q given twice", ErrAddress, e.Addr)
			}
			fresh[e.Addr] = struct{}{}
			added = append(added, e)
			continue
		}
		if keep[k] {
			return fmt.Errorf("%w: %q given twice", ErrAddress, e.Addr)
		}
		keep[k], next = true, k+1
		kept++
		if w := uint32(max(e.Weight, 1)); cores[k].weight.Load() != w {
			reweigh = append(reweigh, reweight{cores[k], w})
		}
		if p.zoneOf[e.Addr] != e.Zone {
			rezoned = append(rezoned, e)
		}
	}
	for _, r := range reweigh {
		r.c.weight.Store(r.w)
	}
	for _, e := range append(added, rezoned...) {
		p.zoneOf[e.Addr] = e.Zone
	}
	if kept == n && len(added) == 0 && len(reweigh) == 0 {
		if len(rezoned) > 0 && p.cfg.zones.on {
			p.rezone(p.view.Load())
		}
		return nil
	}
	for i := range keep {
		keep[i] = !keep[i] // now: drop
	}
	p.publish(change{drop: keep, gone: n - kept, added: p.newMembers(added), reweighed: len(reweigh) > 0})
	return nil
}

// reweight is a kept endpoint's new weight, applied once Set has checked
// the whole list.
type reweight struct {
	c *core
	w uint32
}

// retire marks a removed endpoint so that late outcomes of its leases change
// nothing, and gives back its place in the ejection budget.
func (p *Pool) retire(c *core) {
	for {
		h := c.health.Load()
		o := p.ordered()
		swapped := c.health.CompareAndSwap(h, stateRemoved)
		if swapped {
			o.record(EventRemoved, c, h, false) // the last word: its streak and ejections
		}
		o.unlock()
		if swapped {
			if s := stateOf(h); s == stateEjected || s == stateProbing {
				p.counts.ejected.Add(-1)
			}
			return
		}
	}
}

// publish applies ch: it installs the new view and the policy's table,
// each behind one atomic pointer, updates the address index, and retires
// the dropped members. Callers hold p.mu.
//
// The new view copies the old one's index entries. A health transition
// that raced with the copy may have written only the old view's entries,
// so publish brackets the copy with the pool's transition counters (see
// moved) and, if any transition was under way or began meanwhile, mends
// every entry of the new view from the health words after installing it,
// which covers the transitions that found the old view.
func (p *Pool) publish(ch change) {
	old := p.view.Load()
	at, quiet := p.moves.snapshot()
	v := old.next(ch)
	var retired []*core
	first := len(v.cores) - len(ch.added) // the first position that changed
	if ch.drop != nil {
		for i, dropped := range ch.drop {
			if dropped {
				retired = append(retired, old.cores[i])
				first = min(first, i)
			}
		}
	}
	for _, c := range retired {
		delete(p.index, *c.addr)
		delete(p.zoneOf, *c.addr)
	}
	for _, m := range ch.added {
		p.index[*m.c.addr] = m.c
		p.emit(EventAdded, m.c, 0) // before readers can see it, so before its transitions
	}
	for i := first; i < len(v.cores); i++ {
		v.cores[i].index.Store(int32(i))
	}
	p.view.Store(v)
	p.install(ch, v)
	if p.cfg.zones.on {
		p.rezone(v)
	}
	if !quiet || p.moves.since(at) {
		for i := range v.cores {
			v.mend(i)
		}
		if z := p.zones.Load(); z != nil {
			z.mendZones()
			p.reroute()
		}
	}
	for _, c := range retired {
		p.retire(c)
	}
	if p.cfg.zones.on && len(retired) > 0 {
		p.reroute() // the retired gave back their places under the cap
	}
	if len(ch.added) > 0 {
		p.kick() // a new endpoint for a waiter
	}
}

// newMembers is new endpoints' slots for the pool's policy, each with its
// meter under an adaptive limit.
func (p *Pool) newMembers(endpoints []Endpoint) []member {
	ms := newMembers(p.policy, endpoints)
	if p.cfg.adaptive || p.cfg.outlier.on || p.cfg.slowStart.window != 0 || p.cfg.loadWeights.on {
		for _, m := range ms {
			m.c.meter = p.newMeter()
			p.startRamp(m.c, true)
		}
	}
	return ms
}
