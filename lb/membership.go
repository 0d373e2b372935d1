package lb

import "fmt"

// Membership changes: Add, Remove and Set serialise on p.mu, build the new
// membership by copying, and publish it (a view and the policy's table)
// with one atomic store each; slots never move, so each endpoint keeps its
// counters and health across changes.

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
				p.counts.ejected.Add(-1)
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
	p.install(members, v)
	for i := range v.cores {
		v.trackSlot(i)
	}
}
