package lb

import (
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/subset"
)

// Subset keeps a stable subset of the endpoints a pool is given (New, Add,
// Set, a discovery Runner): the pool's members are Size of them, chosen
// for this client by Rule, so that a fleet of clients spreads its
// connections evenly over the backends while each client holds Size. The
// rest are remembered and join when the subset changes. Health, probes and
// events work within the subset; when more of it is ejected than
// MaxEjectedPercent allows, the pool widens by as many endpoints from
// outside it, and gives them back once the subset recovers.
// docs/subsetting.md compares the rules.
type Subset struct {
	// Size is how many endpoints the pool keeps. Zero turns subsetting
	// off; otherwise 1..65,536. A pool given no more than Size keeps all.
	Size int

	// Client is this client's index in its fleet, 0..N-1 for N clients
	// (a replica ordinal, a shard number): Rule balances the fleet best
	// when the indexes are dense. A hashed or random identity works, with
	// the balance of subsets drawn at random.
	Client uint64

	// Rule chooses the subset; the zero value is SubsetRing. With
	// Config.Zones on, the rule chooses within each zone, for that zone's
	// share of Size rounded up or down by the client so that the fleet's
	// subsets together hold each zone in proportion (Of).
	Rule SubsetRule
}

// SubsetRule is how a pool chooses its subset (Subset.Rule).
type SubsetRule uint8

// Subset rules.
const (
	// SubsetRing places the endpoints on a hash ring and gives client i the
	// first Size clockwise from a start point spread by i: near-even
	// connections for dense client indexes, and a membership change moves
	// only the subset entries it must.
	SubsetRing SubsetRule = iota // ring
	// SubsetDeterministic is the SRE book's deterministic subsetting: an
	// exact balance when Size divides the endpoint count, but any
	// membership change reshuffles nearly every client's subset.
	SubsetDeterministic // deterministic
	// SubsetRendezvous is highest-random-weight hashing, as gRPC's A68:
	// minimal movement on a change, and the balance of random subsets.
	SubsetRendezvous // rendezvous
)

// maxSubset is the largest Subset.Size.
const maxSubset = 1 << 16

// resolve checks s's limits; it needs no defaults.
func (s Subset) resolve() (Subset, error) {
	switch {
	case s.Size == 0 && (s.Client != 0 || s.Rule != 0):
		return Subset{}, fmt.Errorf("%w: Subset.Client or Rule without a Size", ErrConfig)
	case s.Size < 0 || s.Size > maxSubset:
		return Subset{}, fmt.Errorf("%w: Subset.Size %d is outside 1..%d (0 turns subsetting off)", ErrConfig, s.Size, maxSubset)
	case s.Rule > SubsetRendezvous:
		return Subset{}, fmt.Errorf("%w: unknown Subset.Rule %d", ErrConfig, int(s.Rule))
	}
	return s, nil
}

// subsetState is a subsetting pool's memory of what it was given, under
// Pool.mu, and the widening: extra counts the endpoints from outside the
// subset wanted to stand in for ejected ones (fewer may exist).
type subsetState struct {
	given map[string]Endpoint // every endpoint given, members or not
	base  atomic.Int32        // the subset's size: Size, or fewer if fewer were given
	extra atomic.Int32
	timer *time.Timer // runs resubset after a health transition may call for widening or narrowing
}

// SubsetStatus is a subsetting pool's membership at one moment, as
// Pool.SubsetStatus returns it.
type SubsetStatus struct {
	Size    int // Subset.Size; 0 when subsetting is off
	Given   int // endpoints given to the pool, members or not
	Members int // endpoints in the pool: the subset, and the extras
	Extra   int // members from outside the subset standing in for ejected ones
}

// SubsetStatus returns the pool's subset sizes now.
func (p *Pool) SubsetStatus() SubsetStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := SubsetStatus{Size: p.cfg.subset.Size, Members: len(p.view.Load().cores)}
	if s.Size != 0 {
		s.Given = len(p.subset.given)
		s.Extra = s.Members - min(s.Size, s.Given)
	} else {
		s.Given = s.Members
	}
	return s
}

// Of returns the addresses of endpoints that s keeps, sorted: Rule's
// subset of Size for Client, or with byZone, Rule's within each zone
// (Endpoint.Zone) for that zone's share of Size, as a pool with
// Config.Zones on keeps: with the zones in name order, n endpoints, C_z
// = Size × (the endpoints in the zones up to z) and o = ⌊(Client ×
// 0x9e3779b97f4a7c15 mod 2^64) / 2^32⌋ × n / 2^32, zone z's share is
// ⌊(C_z + o)/n⌋ − ⌊(C_{z−1} + o)/n⌋: its exact share rounded down or up,
// so that the subsets of clients 0..N−1 together hold each zone in
// proportion. An address given twice counts once. It is the choice a pool
// makes, for adapters that connect only to the subset (lbgrpc); a pool
// applies it itself.
func (s Subset) Of(endpoints []Endpoint, byZone bool) []string {
	zoneOf := make(map[string]string, len(endpoints))
	for _, e := range endpoints {
		zoneOf[e.Addr] = e.Zone
	}
	addrs := slices.Collect(maps.Keys(zoneOf))
	if !byZone || s.Size >= len(addrs) {
		return s.rule(addrs, s.Size)
	}
	groups := map[string][]string{}
	for _, a := range addrs {
		groups[zoneOf[a]] = append(groups[zoneOf[a]], a)
	}
	var out []string
	for z, n := range zoneQuotas(groups, s.Size, s.Client) {
		out = append(out, s.rule(groups[z], n)...)
	}
	slices.Sort(out)
	return out
}

// rule is Rule's subset of size of addrs for Client, sorted.
func (s Subset) rule(addrs []string, size int) []string {
	if size <= 0 {
		return nil
	}
	switch s.Rule {
	case SubsetDeterministic:
		return subset.Deterministic(s.Client, addrs, size)
	case SubsetRendezvous:
		return subset.Rendezvous(s.Client, addrs, size)
	}
	return subset.Consistent(s.Client, addrs, size)
}

// zoneQuotas splits size among the zones in proportion to their
// addresses, by rounding with the client's offset: with the zones in name
// order, n_z addresses in zone z of total, C_z = size × (n_a + ... + n_z)
// the running sum and o = ⌊(client × 0x9e3779b97f4a7c15 mod 2^64) / 2^32⌋
// × total / 2^32, zone z takes ⌊(C_z + o)/total⌋ − ⌊(C_{z−1} + o)/total⌋.
// Each zone takes the floor or the ceiling of its exact share, the shares
// sum to size, and since the offsets of clients 0..N−1 spread evenly, the
// fleet's subsets hold each zone in its exact proportion.
func zoneQuotas(byZone map[string][]string, size int, client uint64) map[string]int {
	total := uint64(0)
	for _, a := range byZone {
		total += uint64(len(a))
	}
	off := (client * 0x9e3779b97f4a7c15 >> 32) * total >> 32
	quotas := make(map[string]int, len(byZone))
	var cum uint64
	for _, z := range slices.Sorted(maps.Keys(byZone)) {
		next := cum + uint64(size)*uint64(len(byZone[z]))
		quotas[z] = int((next+off)/total - (cum+off)/total)
		cum = next
	}
	return quotas
}

// resubset makes the pool's members the subset of what it was given, and
// as many extras as the subset's ejected endpoints call for: none until
// the ejected reach the cap on the subset (MaxEjectedPercent of Size),
// then one per ejected endpoint of the subset, kept until none is. The
// extras are the client's rendezvous choice among the endpoints outside
// the subset. Callers hold p.mu.
func (p *Pool) resubset() {
	s := &p.cfg.subset
	given := p.subset.given
	addrs := slices.Collect(maps.Keys(given))
	base := s.Of(slices.Collect(maps.Values(given)), p.cfg.zones.on)
	ejected := 0
	for _, a := range base {
		if c, ok := p.index[a]; ok && stateOf(c.health.Load()) != stateUp {
			ejected++
		}
	}
	extra := int(p.subset.extra.Load())
	switch {
	case ejected == 0:
		extra = 0
	case ejected >= p.cfg.maxEjected(len(base)):
		extra = max(extra, ejected)
	}
	members := base
	if extra > 0 {
		rest := slices.DeleteFunc(addrs, func(a string) bool { _, in := slices.BinarySearch(base, a); return in })
		members = append(slices.Clone(base), subset.Rendezvous(s.Client, rest, extra)...)
	}
	p.subset.base.Store(int32(len(base)))
	p.subset.extra.Store(int32(extra))
	eps := make([]Endpoint, len(members))
	for i, a := range members {
		eps[i] = given[a]
	}
	if p.view.Load() == nil {
		p.addMembers(eps) // New's
		return
	}
	_ = p.set(eps) // checked when given
}

// subsetMoved runs after a health transition on a subsetting pool: it
// schedules resubset if the ejected endpoints may call for widening or
// narrowing. A hint from the pool's ejected count (extras included); the
// resubset counts exactly, off the hot path.
func (p *Pool) subsetMoved() {
	e := int(p.counts.ejected.Load())
	extra := int(p.subset.extra.Load())
	if (e >= p.cfg.maxEjected(int(p.subset.base.Load())) && extra < e) || extra > 0 {
		p.subset.timer.Reset(0)
	}
}

// resubsetNow is the timer's resubset.
func (p *Pool) resubsetNow() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resubset()
}
