package lb

import (
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"

	"github.com/nanolb/nanolb/internal/fastrand"
	"github.com/nanolb/nanolb/internal/keyhash"
)

// Zones routes a pool's picks by zone (Endpoint.Zone) as Envoy's
// zone-aware routing does, to keep traffic inside the client's zone
// without overloading it: with the share of the fleet's clients in the
// local zone c and the share of the pool's endpoints up in it u, a pick
// stays local when u ≥ c, and otherwise with probability u/c, the rest
// going to the other zones in proportion to the endpoints they have up
// beyond their own clients' share. So each zone's endpoints get their
// share of the fleet's traffic. Routing is zone-blind while fewer than
// MinEndpoints endpoints are up, and in panic mode (more than
// MaxEjectedPercent of the pool ejected). Keyed picks (PickKey on
// ConsistentHash and Shard) ignore zones: a key's endpoint must not move.
type Zones struct {
	// Local is this client's zone. "" turns zone-aware routing off.
	Local string

	// Clients is the share of the fleet's clients in each zone
	// (NewClientShares). Nil assumes the clients are spread as the pool's
	// endpoints are, up or not: traffic then stays local until the local
	// zone has a smaller share of the endpoints up than of all endpoints.
	Clients *ClientShares

	// MinEndpoints is how many endpoints must be up for routing by zone.
	// Zero means 6 (Envoy's min_cluster_size); otherwise 1..1<<20.
	MinEndpoints int

	// ForceLocal keeps every pick in the local zone while at least this
	// many of its endpoints are up, whatever the shares. Zero turns it
	// off; otherwise 1..1<<20.
	ForceLocal int
}

// ClientShares is the share of a fleet's clients in each zone, for
// Zones.Clients. It is immutable.
type ClientShares struct {
	share map[string]float64 // summing to 1
}

// NewClientShares returns the shares of weights, one per zone, of any
// scale: {"a": 20, "b": 40, "c": 40} and {"a": 0.2, "b": 0.4, "c": 0.4}
// are the same. Zones left out have no clients. Weights must be finite
// and not negative, with a positive sum, for at most 1,000 zones; else
// the error wraps ErrConfig.
func NewClientShares(weights map[string]float64) (*ClientShares, error) {
	if len(weights) > maxZones {
		return nil, fmt.Errorf("%w: %d zones of clients, over %d", ErrConfig, len(weights), maxZones)
	}
	var sum float64
	for zone, w := range weights {
		if !(w >= 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("%w: zone %q has a client weight of %v, not a finite number ≥ 0", ErrConfig, zone, w)
		}
		if len(zone) > MaxZoneLen {
			return nil, fmt.Errorf("%w: a zone name of %d bytes, over %d", ErrConfig, len(zone), MaxZoneLen)
		}
		sum += w
	}
	if !(sum > 0) || math.IsInf(sum, 0) {
		return nil, fmt.Errorf("%w: the zones' client weights sum to %v, not a positive finite number", ErrConfig, sum)
	}
	s := &ClientShares{share: make(map[string]float64, len(weights))}
	for zone, w := range weights {
		s.share[zone] = w / sum
	}
	return s, nil
}

// DefaultZoneMinEndpoints is Zones.MinEndpoints's default.
const DefaultZoneMinEndpoints = 6

// maxZones bounds Zones.ClientShare.
const maxZones = 1000

// zoning is Zones resolved; an empty local zone is off.
type zoning struct {
	on           bool
	local        string
	clients      map[string]float64 // each zone's share of the clients, summing to 1; nil: as the endpoints
	minEndpoints int
	forceLocal   int
}

// resolve checks z's limits and applies its defaults.
func (z Zones) resolve() (zoning, error) {
	if z.Local == "" {
		if z.Clients != nil || z.MinEndpoints != 0 || z.ForceLocal != 0 {
			return zoning{}, fmt.Errorf("%w: Zones.Clients, MinEndpoints or ForceLocal without a Local zone", ErrConfig)
		}
		return zoning{}, nil
	}
	switch {
	case len(z.Local) > MaxZoneLen:
		return zoning{}, fmt.Errorf("%w: Zones.Local is %d bytes, over %d", ErrConfig, len(z.Local), MaxZoneLen)
	case z.MinEndpoints < 0 || z.MinEndpoints > 1<<20:
		return zoning{}, fmt.Errorf("%w: Zones.MinEndpoints %d is outside 1..%d (0 means %d)", ErrConfig, z.MinEndpoints, 1<<20, DefaultZoneMinEndpoints)
	case z.ForceLocal < 0 || z.ForceLocal > 1<<20:
		return zoning{}, fmt.Errorf("%w: Zones.ForceLocal %d is outside 1..%d (0 turns it off)", ErrConfig, z.ForceLocal, 1<<20)
	}
	r := zoning{on: true, local: z.Local, minEndpoints: DefaultZoneMinEndpoints, forceLocal: z.ForceLocal}
	if z.MinEndpoints != 0 {
		r.minEndpoints = z.MinEndpoints
	}
	if z.Clients != nil {
		r.clients = z.Clients.share
	}
	return r, nil
}

// dueZoned is Pool.due's bit set while picks route by zone: Pick's fast
// path already tests the due word, so a pool without zones pays nothing.
const dueZoned = 8

// zoneSet is one membership's zones: a view and a table of the pool's
// policy per zone, over that zone's endpoints, and the route between them,
// rewritten by reroute at every health transition (it is a hint: a Pick
// reading it mid-write routes by a mix of two routes, both valid).
type zoneSet struct {
	zones []zone
	local int              // index of the local zone, or -1 if it has no endpoints
	where map[*core]uint64 // an endpoint's zone index << 32 | its index in that zone's view
	stay  atomic.Uint64    // a draw in [0, 2^63) below it stays local
	spill []atomic.Uint64  // a draw at or above stay goes to the first zone i whose spill[i] is above it
	home  *tables          // the local zone's tables; nil without one
}

// zone is one zone's endpoints, in the pool's view order.
type zone struct {
	name   string
	view   *view
	tables tables
}

// rezone builds the zone set of view v and installs it, then sets the
// route. Callers hold p.mu; publish mends the zone views after a racing
// health transition as it mends v.
func (p *Pool) rezone(v *view) {
	z := &zoneSet{local: -1, where: make(map[*core]uint64, len(v.cores))}
	index := map[string]int{}
	for _, c := range v.cores {
		name := p.zoneOf[*c.addr]
		i, ok := index[name]
		if !ok {
			i = len(z.zones)
			index[name] = i
			z.zones = append(z.zones, zone{name: name, view: &view{}})
			if name == p.cfg.zones.local {
				z.local = i
			}
		}
		zv := z.zones[i].view
		z.where[c] = uint64(i)<<32 | uint64(len(zv.cores))
		zv.cores = append(zv.cores, c)
	}
	for i := range z.zones {
		zv := z.zones[i].view
		zv.up = make([]atomic.Uint64, (len(zv.cores)+63)/64)
		zv.deadlines = make([]atomic.Int64, len(zv.cores))
		for k := range zv.cores {
			zv.trackSlot(k)
		}
		z.zones[i].tables.build(p.policy, zv, p.env())
	}
	z.spill = make([]atomic.Uint64, len(z.zones))
	if z.local >= 0 {
		z.home = &z.zones[z.local].tables
	}
	p.zones.Store(z)
	p.reroute()
}

// trackZone brings c's entries in its zone's view up to date, after track.
func (p *Pool) trackZone(c *core) {
	z := p.zones.Load()
	if z == nil {
		return
	}
	if w, ok := z.where[c]; ok {
		z.zones[w>>32].view.trackSlot(int(uint32(w)))
	}
	p.reroute()
}

// mendZones is mend for every zone view.
func (z *zoneSet) mendZones() {
	for i := range z.zones {
		zv := z.zones[i].view
		for k := range zv.cores {
			zv.mend(k)
		}
	}
}

// reroute sets the route from the endpoints up in each zone, by Envoy's
// zone-aware rule (see Zones), and the dueZoned bit: clear when routing
// is zone-blind.
//
// Reroutes serialise on routeMu: a transition's reroute and a membership
// change's, on an older and a newer zone set, must not interleave their
// writes of the due bit. Only health transitions and membership changes
// take it, never a Pick or a successful Done.
func (p *Pool) reroute() {
	p.routeMu.Lock()
	defer p.routeMu.Unlock()
	z := p.zones.Load()
	if z == nil {
		return
	}
	// Scratch on the stack for up to 16 zones: reroute runs in the Done
	// that ejects an endpoint, which allocates nothing.
	var upBuf [16]int
	var residualBuf [16]float64
	ups, residual := upBuf[:0], residualBuf[:0]
	if len(z.zones) > len(upBuf) {
		ups, residual = make([]int, 0, len(z.zones)), make([]float64, 0, len(z.zones))
	}
	ups, residual = ups[:len(z.zones)], residual[:len(z.zones)]
	total, up := 0, 0
	for i := range z.zones {
		zv := z.zones[i].view
		total += len(zv.cores)
		for w := range zv.up {
			ups[i] += bits.OnesCount64(zv.up[w].Load())
		}
		up += ups[i]
	}
	active := z.local >= 0 && !keyedPolicies[p.policy] && up >= p.cfg.zones.minEndpoints &&
		int(p.counts.ejected.Load()) < p.cfg.maxEjected(total)
	if !active {
		p.due.And(^uint32(dueZoned))
		return
	}
	share := func(i int) float64 { // the share of clients in zone i
		if p.cfg.zones.clients == nil {
			return float64(len(z.zones[i].view.cores)) / float64(total)
		}
		return p.cfg.zones.clients[z.zones[i].name]
	}
	local, clients := float64(ups[z.local])/float64(up), share(z.local)
	stay := 1.0
	if (p.cfg.zones.forceLocal == 0 || ups[z.local] < p.cfg.zones.forceLocal) && local < clients {
		stay = local / clients
	}
	// The picks that leave go to the other zones in proportion to their
	// residual: the share of endpoints up they have beyond their clients'.
	var sum float64
	for i := range z.zones {
		if i != z.local {
			residual[i] = max(float64(ups[i])/float64(up)-share(i), 0)
			sum += residual[i]
		}
	}
	if sum == 0 { // no zone has room to spare: by endpoints up
		for i := range z.zones {
			if i != z.local {
				residual[i] = float64(ups[i])
				sum += residual[i]
			}
		}
	}
	// One draw r in [0, 2^63) decides: below stay local, else the zone
	// whose stretch of [stay, 2^63) holds it.
	var cum float64
	for i := range z.zones {
		cum += residual[i]
		z.spill[i].Store(uint64(min(stay+(1-stay)*cum/sum, 1) * (1 << 63)))
	}
	z.spill[len(z.zones)-1].Store(1 << 63)
	z.stay.Store(uint64(stay * (1 << 63)))
	p.due.Or(dueZoned)
}

// pickZoned is the policy's choice within a zone: the local one with the
// route's probability (no draw while it keeps every pick), else another
// by its residual, from the same draw; nil from that zone's table
// (nothing up there) falls back to the whole pool.
func (p *Pool) pickZoned() *core {
	z := p.zones.Load()
	t := z.home
	var c *core
	if stay := z.stay.Load(); stay == 1<<63 {
		c = t.pickIn(p.policy)
	} else {
		r := fastrand.Uint63()
		if r >= stay {
			i := 0
			for i < len(z.spill)-1 && r >= z.spill[i].Load() {
				i++
			}
			t = &z.zones[i].tables
		}
		c = t.pickInWith(p.policy, keyhash.Mix64(r)>>1) // the draw, remixed, serves a policy's own too
	}
	if c != nil {
		return c
	}
	return p.pick()
}

// ZoneStatus is a pool's zone-aware routing at one moment, as
// Pool.ZoneStatus returns it.
type ZoneStatus struct {
	Local string // Zones.Local; "" when zone-aware routing is off
	// Active reports that picks route by zone. It is false, and routing
	// zone-blind, with zones off, with no endpoint in the local zone,
	// fewer than Zones.MinEndpoints up, in panic mode, or on a keyed
	// policy.
	Active bool
	// Shares is each zone's share of the pool's unkeyed picks while
	// Active, the local zone's included; nil otherwise.
	Shares map[string]float64
}

// ZoneStatus returns the pool's zone-aware routing now.
func (p *Pool) ZoneStatus() ZoneStatus {
	s := ZoneStatus{Local: p.cfg.zones.local}
	z := p.zones.Load()
	if z == nil || p.due.Load()&dueZoned == 0 {
		return s
	}
	s.Active, s.Shares = true, make(map[string]float64, len(z.zones))
	stay := float64(z.stay.Load()) / (1 << 63)
	below := stay
	for i := range z.zones {
		at := float64(z.spill[i].Load()) / (1 << 63)
		if i != z.local {
			s.Shares[z.zones[i].name] = max(at-below, 0)
		}
		below = max(below, at)
	}
	s.Shares[z.zones[z.local].name] += stay
	return s
}
