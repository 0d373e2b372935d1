package fuzz

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/internal/subset"
	"github.com/nanolb/nanolb/lb"
)

// FuzzFleet runs a fuzzed sequence of Add, Remove, Set, failures, clock
// steps and picks on a pool with subsetting and zones, and after every
// step (and the pool's timers) compares it with a sequential model written
// from the documentation of lb.Subset and lb.Zones:
//
//   - the members are the rule's subset of what the pool was given, plus
//     the rendezvous choice of extras outside it: none until the subset's
//     ejected endpoints reach the cap on Size, then one per ejected
//     endpoint, kept (never fewer) until none is;
//   - ZoneStatus is Envoy's rule computed from the members' zones and
//     states: active only with an endpoint in the local zone, at least
//     MinEndpoints up and fewer ejected than the cap; then the local share
//     is min(1, up share / client share) and the rest goes to the other
//     zones by their up share beyond their client share.
//
// The endpoints' health is read from the pool, not predicted: FuzzOps
// models that.
func FuzzFleet(f *testing.F) {
	f.Add([]byte{4, 1, 0, 0, 20, 3, 0, 3, 1, 3, 2, 3, 3, 4, 0, 5, 0, 1, 6, 2, 9})
	f.Add([]byte{3, 2, 1, 1, 30, 3, 0, 3, 1, 3, 2, 2, 4, 0, 0, 10, 4, 0, 5, 0, 4, 1, 1, 7})
	f.Add([]byte{2, 0, 2, 0, 12, 0, 40, 3, 0, 3, 1, 1, 0, 4, 0, 4, 1, 2, 1, 5, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			tp := &tape{b: data}
			m := newFleetModel(t, tp)
			if m == nil {
				return
			}
			defer m.pool.Close()
			for k := 0; k < 40 && !tp.empty(); k++ {
				m.step(tp)
				synctest.Wait()
				m.check(k)
			}
		})
	})
}

const fleetAddrs = 48

// fleetModel is the model's state: what the pool was given, and the
// extras it expects.
type fleetModel struct {
	t      *testing.T
	pool   *lb.Pool
	cfg    lb.Config
	given  map[string]lb.Endpoint
	subset []string // the rule's subset of given, nil when given changed since
	extra  int
	shares map[string]float64 // nil: as the endpoints
}

func fleetAddr(i int) string { return fmt.Sprintf("10.0.%d.%d:80", i/16, i%16) }

// fleetZone is address i's zone, "a".."c" or "" (every fourth).
func fleetZone(i, salt int) string { return []string{"a", "b", "c", ""}[(i+salt)%4] }

func newFleetModel(t *testing.T, tp *tape) *fleetModel {
	size, client, rule := 1+tp.intn(12), uint64(tp.intn(8)), lb.SubsetRule(tp.intn(3))
	cfg := lb.Config{
		Policy:     []lb.Policy{lb.P2C, lb.RoundRobin, lb.Random, lb.LeastLoaded}[tp.intn(4)],
		Subset:     lb.Subset{Size: size, Client: client, Rule: rule},
		Zones:      lb.Zones{Local: []string{"a", "b", "c", "d"}[tp.intn(4)], MinEndpoints: 1 + tp.intn(4)},
		Outlier:    lb.Outlier{Off: true},
		EjectAfter: 1, EjectFor: time.Second, MaxEjectFor: time.Second, NoJitter: true,
		MaxEjectedPercent: 25 * (1 + tp.intn(4)),
	}
	m := &fleetModel{t: t, cfg: cfg, given: map[string]lb.Endpoint{}}
	if tp.intn(2) == 1 {
		m.shares = map[string]float64{"a": 20, "b": 40, "c": 40}
		s, err := lb.NewClientShares(m.shares)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Zones.Clients = s
		m.cfg = cfg
		sum := 100.0
		for z := range m.shares {
			m.shares[z] /= sum
		}
	}
	var eps []lb.Endpoint
	for i := range 4 + tp.intn(fleetAddrs-4) {
		eps = append(eps, lb.Endpoint{Addr: fleetAddr(i), Zone: fleetZone(i, 0)})
	}
	p, err := lb.NewWeighted(cfg, eps...)
	if err != nil {
		t.Fatalf("NewWeighted: %v", err)
	}
	m.pool = p
	for _, e := range eps {
		m.given[e.Addr] = e
	}
	m.widen()
	return m
}

// step applies one fuzzed operation to the pool and the model.
func (m *fleetModel) step(tp *tape) {
	switch tp.intn(7) {
	case 0: // Add
		i := tp.intn(fleetAddrs)
		e := lb.Endpoint{Addr: fleetAddr(i), Zone: fleetZone(i, 0)}
		if err := m.pool.AddWeighted(e); err != nil {
			m.t.Fatal(err)
		}
		if _, ok := m.given[e.Addr]; !ok {
			m.given[e.Addr] = e
		}
		m.subset = nil
		m.widen()
	case 1: // Remove
		a := fleetAddr(tp.intn(fleetAddrs))
		if err := m.pool.Remove(a); err != nil {
			m.t.Fatal(err)
		}
		delete(m.given, a)
		m.subset = nil
		m.widen()
	case 2: // Set: a window of addresses, zones shifted by a salt
		from, n, salt := tp.intn(fleetAddrs), tp.intn(fleetAddrs), tp.intn(4)
		var eps []lb.Endpoint
		for i := from; i < min(from+n, fleetAddrs); i++ {
			eps = append(eps, lb.Endpoint{Addr: fleetAddr(i), Zone: fleetZone(i, salt)})
		}
		if err := m.pool.Set(eps...); err != nil {
			m.t.Fatal(err)
		}
		m.given = map[string]lb.Endpoint{}
		for _, e := range eps {
			m.given[e.Addr] = e
		}
		m.subset = nil
		m.widen()
	case 3, 4: // a failure on the endpoint picked: ejects it unless at the cap
		if l, err := m.pool.Pick(); err == nil {
			l.Done(errBackend)
		}
	case 5: // time passes: cooldowns end
		time.Sleep(time.Duration(1+tp.intn(3)) * 600 * time.Millisecond)
	case 6: // picks, which probe due endpoints and succeed
		for range tp.intn(40) {
			if l, err := m.pool.Pick(); err == nil {
				l.Done(nil)
			}
		}
	}
	synctest.Wait()
	m.widen()
}

// states is each member's state.
func (m *fleetModel) states() map[string]lb.EndpointStatus {
	out := map[string]lb.EndpointStatus{}
	for _, e := range m.pool.Endpoints() {
		out[e.Addr] = e
	}
	return out
}

// base is the rule's subset of what the pool was given.
func (m *fleetModel) base() []string {
	if m.subset == nil {
		m.subset = m.computeBase()
	}
	return m.subset
}

// computeBase is the rule's subset within each zone, for the zone's share
// of Size as lb.Subset.Of documents it: zones in name order, C_z = Size ×
// endpoints up to z, o from the client, ⌊(C_z+o)/n⌋ − ⌊(C_{z−1}+o)/n⌋.
func (m *fleetModel) computeBase() []string {
	s := m.cfg.Subset
	n := uint64(len(m.given))
	if s.Size >= int(n) {
		return slices.Sorted(maps.Keys(m.given))
	}
	byZone := map[string][]string{}
	for a, e := range m.given {
		byZone[e.Zone] = append(byZone[e.Zone], a)
	}
	hi, _ := bits.Mul64(s.Client*0x9e3779b97f4a7c15>>32<<32, n) // ⌊frac(client·φ) × n⌋, to 32 bits of the fraction
	o := hi
	var out []string
	var c uint64
	for _, z := range slices.Sorted(maps.Keys(byZone)) {
		next := c + uint64(s.Size)*uint64(len(byZone[z]))
		k := int((next+o)/n - (c+o)/n)
		c = next
		addrs := byZone[z]
		switch s.Rule {
		case lb.SubsetDeterministic:
			out = append(out, subset.Deterministic(s.Client, addrs, k)...)
		case lb.SubsetRendezvous:
			out = append(out, subset.Rendezvous(s.Client, addrs, k)...)
		default:
			out = append(out, subset.Consistent(s.Client, addrs, k)...)
		}
	}
	slices.Sort(out)
	return out
}

// widen applies the widening rule to the model's extras.
func (m *fleetModel) widen() {
	base, st := m.base(), m.states()
	ejected := 0
	for _, a := range base {
		if e, ok := st[a]; ok && e.State != lb.Up {
			ejected++
		}
	}
	switch {
	case ejected == 0:
		m.extra = 0
	case ejected >= maxEjected(m.cfg.MaxEjectedPercent, len(base)):
		m.extra = max(m.extra, ejected)
	}
}

// check compares the pool with the model.
func (m *fleetModel) check(k int) {
	t := m.t
	base := m.base()
	rest := slices.DeleteFunc(slices.Sorted(maps.Keys(m.given)), func(a string) bool { return slices.Contains(base, a) })
	want := slices.Concat(base, subset.Rendezvous(m.cfg.Subset.Client, rest, m.extra))
	slices.Sort(want)
	st := m.states()
	got := slices.Sorted(maps.Keys(st))
	if !slices.Equal(got, want) {
		t.Fatalf("step %d: members %v, want %v (base %v, %d extras)", k, got, want, base, m.extra)
	}
	if s := m.pool.SubsetStatus(); s.Extra != len(want)-len(base) || s.Given != len(m.given) {
		t.Fatalf("step %d: SubsetStatus %+v, want %d extras of %d given", k, s, len(want)-len(base), len(m.given))
	}
	for a, e := range st {
		if e.Zone != m.given[a].Zone {
			t.Fatalf("step %d: %s is in zone %q, given %q", k, a, e.Zone, m.given[a].Zone)
		}
	}
	m.checkZones(k, st)
}

// checkZones compares ZoneStatus with Envoy's rule over the members.
func (m *fleetModel) checkZones(k int, st map[string]lb.EndpointStatus) {
	z := m.cfg.Zones
	total, up, ejected := map[string]int{}, map[string]int{}, 0
	var n, u int
	for _, e := range st {
		total[e.Zone]++
		n++
		if e.State == lb.Up {
			up[e.Zone]++
			u++
		} else {
			ejected++
		}
	}
	active := total[z.Local] > 0 && u >= z.MinEndpoints && ejected < maxEjected(m.cfg.MaxEjectedPercent, n)
	got := m.pool.ZoneStatus()
	if got.Active != active {
		m.t.Fatalf("step %d: ZoneStatus %+v, want active %v (%d of %d up, %d ejected, %v)", k, got, active, u, n, ejected, up)
	}
	if !active {
		return
	}
	share := func(zone string) float64 {
		if m.shares == nil {
			return float64(total[zone]) / float64(n)
		}
		return m.shares[zone]
	}
	upShare := func(zone string) float64 { return float64(up[zone]) / float64(u) }
	stay := 1.0
	if upShare(z.Local) < share(z.Local) {
		stay = upShare(z.Local) / share(z.Local)
	}
	want := map[string]float64{z.Local: stay}
	residual, sum := map[string]float64{}, 0.0
	for zone := range total {
		if zone != z.Local {
			residual[zone] = max(upShare(zone)-share(zone), 0)
			sum += residual[zone]
		}
	}
	if sum == 0 {
		for zone := range total {
			if zone != z.Local {
				residual[zone] = float64(up[zone])
				sum += residual[zone]
			}
		}
	}
	for zone, r := range residual {
		if sum > 0 {
			want[zone] += (1 - stay) * r / sum
		}
	}
	for zone := range total {
		if math.Abs(got.Shares[zone]-want[zone]) > 1e-9 {
			m.t.Fatalf("step %d: zone %q's share %.12f, want %.12f (ZoneStatus %+v; up %v of %v)", k, zone, got.Shares[zone], want[zone], got, up, total)
		}
	}
}
