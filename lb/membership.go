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
		added := newMembers(p.policy, fresh)
		p.publish(append(p.members[:len(p.members):len(p.members)], added...), added, nil)
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
	drop := make([]bool, len(p.members))
	gone := 0
	for _, a := range addrs {
		if c, ok := p.index[a]; ok && !drop[c.index.Load()] {
			drop[c.index.Load()] = true
			gone++
		}
	}
	if gone > 0 {
		p.keepOnly(drop, gone, nil)
	}
	return nil
}

// Set makes endpoints the pool's whole membership, in one publish: an
// address already in the pool keeps its counters, health and place in the
// pool's order (a changed weight applies in place), a new one starts up
// with no history after them, in the order given, and one left out is
// removed as by Remove. A zero Weight means 1. An empty address, one given
// twice or a weight outside 0..MaxWeight is an error wrapping ErrAddress,
// and then nothing changes.
//
// Set costs one pass over endpoints and one over the pool. Discovery tends
// to send the same list in the same order with a few changes, so each
// address is first compared with the member after the last one matched,
// and looked up in the pool's index only when that differs.
func (p *Pool) Set(endpoints ...Endpoint) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.members)
	keep := make([]bool, n)
	at := make([]int32, len(endpoints)) // member position, or -1 for a new address
	var fresh map[string]struct{}
	kept, next := 0, 0
	for i, e := range endpoints {
		if err := checkEndpoint(i, e); err != nil {
			return err
		}
		k := -1
		if next < n && p.members[next].c.addr == e.Addr {
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
			at[i] = -1
			continue
		}
		if keep[k] {
			return fmt.Errorf("%w: %q given twice", ErrAddress, e.Addr)
		}
		keep[k], at[i], next = true, int32(k), k+1
		kept++
	}
	added := make([]Endpoint, 0, len(fresh))
	reweighed := false
	for i, e := range endpoints {
		if at[i] < 0 {
			added = append(added, e)
			continue
		}
		if c, w := p.members[at[i]].c, uint32(max(e.Weight, 1)); c.weight.Load() != w {
			c.weight.Store(w)
			reweighed = true
		}
	}
	if kept == n && len(added) == 0 && !reweighed {
		return nil
	}
	for i := range keep {
		keep[i] = !keep[i] // now: drop
	}
	p.keepOnly(keep, n-kept, newMembers(p.policy, added))
	return nil
}

// keepOnly publishes the members not marked in drop (gone of them are),
// followed by fresh, and retires the dropped ones. Callers hold p.mu.
func (p *Pool) keepOnly(drop []bool, gone int, fresh []member) {
	kept := make([]member, 0, len(p.members)-gone+len(fresh))
	var retired []*core
	for i, m := range p.members {
		if drop[i] {
			retired = append(retired, m.c)
			continue
		}
		kept = append(kept, m)
	}
	p.publish(append(kept, fresh...), fresh, retired)
	for _, c := range retired {
		p.retire(c)
	}
}

// retire marks a removed endpoint so that late outcomes of its leases change
// nothing, and gives back its place in the ejection budget.
func (p *Pool) retire(c *core) {
	for {
		h := c.health.Load()
		ev := p.reserve()
		if c.health.CompareAndSwap(h, stateRemoved) {
			ev.commit(EventRemoved, c, h, false)
			if s := stateOf(h); s == stateEjected || s == stateProbing {
				p.counts.ejected.Add(-1)
			}
			return
		}
		ev.cancel()
	}
}

// publish installs members as the pool's membership: the view and the
// policy's table, each behind one atomic pointer, and the address index,
// which gains the added members and loses the retired ones. Callers hold
// p.mu.
//
// Health transitions that race with it track themselves in whichever view
// they find; the final pass here mends every slot of the new view after
// every endpoint knows its place in it, which covers the transitions that
// found the old one. It reads each slot and writes only the stale ones.
func (p *Pool) publish(members, added []member, retired []*core) {
	v := newView(members) // its index entries are filled before readers see it
	for _, c := range retired {
		delete(p.index, c.addr)
	}
	for _, m := range added {
		p.index[m.c.addr] = m.c
		p.emit(EventAdded, m.c, 0) // before readers can see it, so before its transitions
	}
	for i, m := range members {
		if m.c.index.Load() != int32(i) {
			m.c.index.Store(int32(i))
		}
	}
	p.members = members
	p.view.Store(v)
	p.install(members, v)
	for i := range v.cores {
		v.mend(i)
	}
	if len(added) > 0 {
		p.kick() // a new endpoint for a waiter
	}
}
