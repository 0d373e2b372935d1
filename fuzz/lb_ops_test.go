package fuzz

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/lb"
)

// FuzzOps runs a fuzzed sequence of New, Ensure, Add, Remove, Set, Pick,
// Registry.Get then Pick, Done (success, failure, cancellation, and a second Done on
// a finished lease), Delete and clock steps against the real pools and
// registry and against a sequential reference model written here from the
// package's documentation, and requires them to agree after every step:
// errors (by errors.Is), the registry's names and pools, each pool's
// membership in order, and each endpoint's state, streak, ejections,
// deadline and in-flight count. Pick's choice among the endpoints that are
// up is the policy's; the model takes the real choice after checking it
// was allowed (up; for P2C not the strictly busiest, for LeastLoaded one of
// the least loaded, by the streak-doubled load), and predicts
// everything else, probes included, exactly. All configs use NoJitter, and
// a fuzzed config may be invalid.
func FuzzOps(f *testing.F) {
	for _, seed := range opsSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			m := &opsModel{t: t, tp: &tape{b: data}, reg: lb.NewRegistry(), names: map[string]*opsPool{}}
			for k := 0; k < 300 && !m.tp.empty(); k++ {
				m.step(k)
			}
			m.finish()
		})
	})
}

// opsSeeds are scripts in the encoding of opsModel.step; more, with
// names, are in testdata/fuzz/FuzzOps.
var opsSeeds = [][]byte{
	// Both endpoints of a pool ejected, ErrNoEndpoint, then their probes.
	{0, 0, 1, 41, 41, 41, 1, 2, 0, 1, 4, 0, 8, 0, 1, 4, 0, 8, 1, 1, 4, 0, 11, 3, 4, 0, 8, 2, 0, 4, 0, 8, 3, 4},
	// Ensure is create-once; Delete, then Ensure creates afresh.
	{1, 0, 1, 1, 41, 41, 41, 1, 2, 0, 1, 1, 0, 0, 1, 41, 41, 41, 1, 1, 2, 7, 0, 3, 0, 1, 0, 1, 0, 0, 1, 41, 41, 41, 1, 1, 0, 7, 0, 10, 0, 7, 0, 1, 0, 0, 1, 41, 41, 41, 1, 1, 3, 7, 0, 8, 0, 1, 8, 1, 0, 8, 2, 2},
	// A second Done on a finished lease, and outcomes late on an ejected endpoint.
	{0, 0, 2, 41, 41, 41, 3, 2, 0, 1, 4, 0, 4, 0, 4, 0, 8, 0, 1, 8, 0, 1, 8, 1, 1, 8, 2, 1, 4, 0, 8, 3, 0, 8, 3, 0, 11, 3, 4, 0, 8, 4, 3, 4, 0, 8, 5, 1, 11, 4, 4, 0, 11, 0, 4, 0},
}

type opsEndpoint struct {
	addr     string
	state    lb.State
	streak   int
	k        int   // ejections in a row
	deadline int64 // cooldown or probe window end, µs since the pool's birth
	since    int64 // up: when the streak's first timeout came, µs since birth; 0 none
	inflight int64
	owner    int  // the probe lease that owns it while probing
	removed  bool // this incarnation left the pool
}

type opsPool struct {
	real   *lb.Pool
	born   time.Time
	policy lb.Policy

	ejectAfter, pct                 int
	ejectFor, maxEjectFor, probeFor int64
	grace                           int64 // TimeoutGrace, µs

	eps    []*opsEndpoint // in pool order
	layout []string       // a Shard pool's Config.Shards, or nil
}

type opsLease struct {
	real  lb.Lease
	pool  *opsPool
	ep    *opsEndpoint
	probe int // its probe number, 0 for an ordinary lease
	done  bool
}

type opsModel struct {
	t      *testing.T
	tp     *tape
	reg    *lb.Registry
	names  map[string]*opsPool
	pools  []*opsPool
	leases []*opsLease
	probes int // probe numbers handed out
}

var (
	opsAddrs = []string{"a:1", "b:1", "c:1", "d:1", "e:1"}
	opsNames = []string{"x", "y", ""}
)

// addrs reads up to four addresses; one in sixteen is empty.
func (m *opsModel) addrs() []string {
	out := []string{}
	for range m.tp.intn(5) {
		if i := m.tp.intn(16); i < 15 {
			out = append(out, opsAddrs[i%len(opsAddrs)])
		} else {
			out = append(out, "")
		}
	}
	return out
}

// duration reads a Config duration: zero (the default), ranges from
// microseconds to seconds, sub-microsecond remainders, and invalid values.
func (m *opsModel) duration() time.Duration {
	b := m.tp.byte()
	v := time.Duration(b&31 + 1)
	switch b >> 5 {
	case 0:
		return 0
	case 1:
		return v * time.Microsecond
	case 2:
		return v * 100 * time.Microsecond
	case 3:
		return v * time.Millisecond
	case 4:
		return v * time.Second
	case 5:
		return (v-1)*time.Microsecond + 300*time.Nanosecond
	case 6:
		return []time.Duration{-time.Microsecond, 24 * time.Hour, 24*time.Hour + time.Microsecond,
			time.Minute, 999 * time.Nanosecond, time.Microsecond, -1, 1}[b&7]
	}
	return v * 10 * time.Microsecond
}

// config reads a Config, valid or not; NoJitter always, so the model is
// exact, and outlier detection off: the model follows consecutive failures
// (lb's outlier tests check the rates).
func (m *opsModel) config() lb.Config {
	c := lb.Config{NoJitter: true, Outlier: lb.Outlier{Off: true}}
	c.Policy = lb.Policy(m.tp.intn(numPolicies() + 1))
	switch v := m.tp.intn(16); v {
	case 12:
		c.EjectAfter = -1
	case 13:
		c.EjectAfter = 256
	case 14:
		c.EjectAfter = 255
	case 15:
		c.EjectAfter = 2
	default:
		c.EjectAfter = v % 4
	}
	c.EjectFor, c.MaxEjectFor, c.ProbeTimeout = m.duration(), m.duration(), m.duration()
	c.TimeoutGrace = c.EjectFor // no byte of its own, so the seeds keep their meaning
	c.MaxEjectedPercent = []int{0, 100, 100, 50, 1, 10, 33, 99, -1, 101}[m.tp.intn(10)]
	if c.Policy == lb.Shard {
		// An explicit layout of 1 to 4 distinct addresses, not in address
		// order, or none (a zero count).
		if n := m.tp.intn(5); n > 0 {
			start, addrs := m.tp.intn(len(opsAddrs)), []string{}
			for i := range n {
				addrs = append(addrs, opsAddrs[(start+2*i)%len(opsAddrs)])
			}
			layout, err := lb.NewShardLayout(addrs...)
			if err != nil {
				m.t.Fatalf("NewShardLayout(%q): %v", addrs, err)
			}
			c.Shards = layout
		}
	}
	return c
}

// resolve applies Config's documented defaults and limits; ok is false for
// a config New must reject with ErrConfig.
func resolve(c lb.Config) (mp opsPool, ok bool) {
	dur := func(d, def time.Duration) (time.Duration, bool) {
		switch {
		case d == 0:
			return def, true
		case d < time.Microsecond || d > 24*time.Hour:
			return 0, false
		}
		return d, true
	}
	if c.Policy.String() == "unknown" || c.EjectAfter < 0 || c.EjectAfter > 255 || c.MaxEjectedPercent < 0 || c.MaxEjectedPercent > 100 {
		return mp, false
	}
	mp.policy, mp.ejectAfter, mp.pct, mp.layout = c.Policy, c.EjectAfter, c.MaxEjectedPercent, c.Shards.Addrs()
	if mp.ejectAfter == 0 {
		mp.ejectAfter = lb.DefaultEjectAfter
	}
	if mp.pct == 0 {
		mp.pct = lb.DefaultMaxEjectedPercent
	}
	ejectFor, ok1 := dur(c.EjectFor, lb.DefaultEjectFor)
	maxEjectFor, ok2 := dur(c.MaxEjectFor, max(lb.DefaultMaxEjectFor, ejectFor))
	probeFor, ok3 := dur(c.ProbeTimeout, lb.DefaultProbeTimeout)
	// Config durations round up to the health clock's microsecond.
	up := func(d time.Duration) int64 { return micros(d + time.Microsecond - 1) }
	grace, ok4 := dur(c.TimeoutGrace, lb.DefaultTimeoutGrace)
	mp.ejectFor, mp.maxEjectFor, mp.probeFor, mp.grace = up(ejectFor), up(maxEjectFor), up(probeFor), up(grace)
	return mp, ok1 && ok2 && ok3 && ok4 && maxEjectFor >= ejectFor
}

// badAddrs reports whether New and Add must reject addrs with ErrAddress.
func badAddrs(addrs []string) bool {
	seen := map[string]bool{}
	for _, a := range addrs {
		if a == "" || seen[a] {
			return true
		}
		seen[a] = true
	}
	return false
}

// create runs New (name == nil) or Ensure and checks it against the model.
func (m *opsModel) create(name *string) {
	t := m.t
	cfg, addrs := m.config(), m.addrs()
	defer func() { tracef(t, "New/Ensure(%v, %+v, %q)", name != nil, cfg, addrs) }()
	var (
		p   *lb.Pool
		err error
	)
	born := time.Now()
	if name == nil {
		p, err = lb.New(cfg, addrs...)
	} else {
		p, err = m.reg.Ensure(*name, cfg, addrs...)
		switch old := m.names[*name]; {
		case *name == "":
			if !errors.Is(err, lb.ErrName) || p != nil {
				t.Fatalf("Ensure with an empty name = %p, %v; want ErrName", p, err)
			}
			return
		case old != nil:
			if err != nil || p != old.real {
				t.Fatalf("Ensure(%q) of an existing pool = %p, %v; want %p as it is", *name, p, err, old.real)
			}
			return
		}
	}
	mp, ok := resolve(cfg)
	switch {
	case !ok:
		if !errors.Is(err, lb.ErrConfig) || p != nil {
			t.Fatalf("New/Ensure(%+v) = %p, %v; want ErrConfig", cfg, p, err)
		}
	case badAddrs(addrs):
		if !errors.Is(err, lb.ErrAddress) || p != nil {
			t.Fatalf("New/Ensure(%q) = %p, %v; want ErrAddress", addrs, p, err)
		}
	default:
		if err != nil || p == nil {
			t.Fatalf("New/Ensure(%+v, %q) = %v", cfg, addrs, err)
		}
		mp.real, mp.born = p, born
		for _, a := range addrs {
			mp.eps = append(mp.eps, &opsEndpoint{addr: a})
		}
		m.pools = append(m.pools, &mp)
		if name != nil {
			m.names[*name] = &mp
		}
		if p.Policy() != mp.policy {
			t.Fatalf("Policy() = %v, want %v", p.Policy(), mp.policy)
		}
		m.compare(&mp)
		return
	}
	if name != nil && m.reg.Len() != len(m.names) {
		t.Fatalf("a rejected Ensure stored a pool: %d pools, want %d", m.reg.Len(), len(m.names))
	}
}

func (m *opsModel) pool() *opsPool {
	if len(m.pools) == 0 {
		return nil
	}
	return m.pools[m.tp.intn(len(m.pools))]
}

// step runs one operation: a byte modulo 12, then its operands; a byte of
// 240 or more is Set (pool, addresses), a range no older script uses for
// an operation. 0: New (config, addresses). 1: Ensure (name, config,
// addresses). 2, 3: Add, Remove (pool, addresses). 4-6: Pick (pool). 7: Registry.Get then Pick (name).
// 8, 9: Done (lease, outcome). 10: Delete (name). 11: clock step (kind,
// maybe a byte). A config is policy, EjectAfter, three durations
// (opsModel.duration) and MaxEjectedPercent, a byte each; addresses are a
// count and a byte per address; a pool or lease is a byte indexing those
// created so far.
func (m *opsModel) step(k int) {
	t := m.t
	b := m.tp.byte()
	if b >= 240 {
		m.set(k)
		return
	}
	switch op := b % 12; op {
	case 0:
		m.create(nil)
	case 1:
		name := opsNames[m.tp.intn(len(opsNames))]
		m.create(&name)
	case 2:
		mp := m.pool()
		if mp == nil {
			return
		}
		addrs := m.addrs()
		err := mp.real.Add(addrs...)
		tracef(t, "op %d: Add(%q) = %v", k, addrs, err)
		if badAddrs(addrs) {
			if !errors.Is(err, lb.ErrAddress) {
				t.Fatalf("op %d: Add(%q) = %v, want ErrAddress", k, addrs, err)
			}
		} else {
			if err != nil {
				t.Fatalf("op %d: Add(%q) = %v", k, addrs, err)
			}
			for _, a := range addrs {
				if mp.find(a) == nil {
					mp.eps = append(mp.eps, &opsEndpoint{addr: a})
				}
			}
		}
		m.compare(mp)
	case 3:
		mp := m.pool()
		if mp == nil {
			return
		}
		addrs := m.addrs()
		err := mp.real.Remove(addrs...)
		tracef(t, "op %d: Remove(%q) = %v", k, addrs, err)
		empty := false
		for _, a := range addrs {
			empty = empty || a == ""
		}
		if empty {
			if !errors.Is(err, lb.ErrAddress) {
				t.Fatalf("op %d: Remove(%q) = %v, want ErrAddress", k, addrs, err)
			}
		} else {
			if err != nil {
				t.Fatalf("op %d: Remove(%q) = %v", k, addrs, err)
			}
			for _, a := range addrs {
				if e := mp.find(a); e != nil {
					e.removed = true
					mp.eps = deleteEndpoint(mp.eps, e)
				}
			}
		}
		m.compare(mp)
	case 4, 5:
		if mp := m.pool(); mp != nil {
			l, err := mp.real.Pick()
			m.picked(k, mp, l, err)
		}
	case 6: // a keyed pick, key k: strict on Shard pools, else as Pick
		if mp := m.pool(); mp != nil {
			l, err := mp.real.PickKeyUint64(uint64(k))
			if mp.policy == lb.Shard {
				m.pickedShard(k, mp, uint64(k), l, err)
			} else {
				m.picked(k, mp, l, err)
			}
		}
	case 7:
		name := opsNames[m.tp.intn(len(opsNames))]
		p, ok := m.reg.Get(name)
		if mp := m.names[name]; mp == nil {
			if ok {
				t.Fatalf("op %d: Registry.Get(%q) of no pool found one", k, name)
			}
		} else {
			if p != mp.real {
				t.Fatalf("op %d: Registry.Get(%q) is not the pool Ensure returned", k, name)
			}
			l, err := p.Pick()
			m.picked(k, mp, l, err)
		}
	case 8, 9:
		if len(m.leases) > 0 {
			m.done(k, m.leases[m.tp.intn(len(m.leases))], outcomes[m.tp.intn(len(outcomes))])
		}
	case 10:
		name := opsNames[m.tp.intn(len(opsNames))]
		_, had := m.names[name]
		tracef(t, "op %d: Delete(%q)", k, name)
		if got := m.reg.Delete(name); got != had {
			t.Fatalf("op %d: Delete(%q) = %v, want %v", k, name, got, had)
		}
		delete(m.names, name)
	case 11:
		m.sleep()
	}
	m.checkRegistry(k)
}

// set runs Set on a pool and checks it against the model: an empty or
// repeated address is ErrAddress and changes nothing; otherwise the
// endpoints listed that were in the pool stay, in the pool's order and with
// their state, the new ones follow in the order given, and the rest are
// removed as by Remove.
func (m *opsModel) set(k int) {
	t := m.t
	mp := m.pool()
	if mp == nil {
		return
	}
	addrs := m.addrs()
	endpoints := make([]lb.Endpoint, len(addrs))
	for i, a := range addrs {
		endpoints[i] = lb.Endpoint{Addr: a}
	}
	err := mp.real.Set(endpoints...)
	tracef(t, "op %d: Set(%q) = %v", k, addrs, err)
	switch {
	case badAddrs(addrs):
		if !errors.Is(err, lb.ErrAddress) {
			t.Fatalf("op %d: Set(%q) = %v, want ErrAddress", k, addrs, err)
		}
	case err != nil:
		t.Fatalf("op %d: Set(%q) = %v", k, addrs, err)
	default:
		var eps []*opsEndpoint
		for _, e := range mp.eps {
			if slices.Contains(addrs, e.addr) {
				eps = append(eps, e)
			} else {
				e.removed = true
			}
		}
		for _, a := range addrs {
			if mp.find(a) == nil {
				eps = append(eps, &opsEndpoint{addr: a})
			}
		}
		mp.eps = eps
	}
	m.compare(mp)
}

func (mp *opsPool) find(addr string) *opsEndpoint {
	for _, e := range mp.eps {
		if e.addr == addr {
			return e
		}
	}
	return nil
}

func deleteEndpoint(eps []*opsEndpoint, e *opsEndpoint) []*opsEndpoint {
	out := eps[:0:0]
	for _, x := range eps {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}

func (mp *opsPool) now() int64 { return since(mp.born) }

// out counts the endpoints ejected or probing: MaxEjectedPercent's count.
func (mp *opsPool) out() int {
	n := 0
	for _, e := range mp.eps {
		if e.state != lb.Up {
			n++
		}
	}
	return n
}

// pickedShard checks a PickKeyUint64 on a Shard pool against the model,
// as Shard documents it: shard i is the layout's i-th address (empty if
// it is not in the pool) or, without a layout, the i-th endpoint in
// address order (shorter first, then bytewise), the key's shard is its jump hash over
// their number after MurmurHash3's finaliser, and the key goes there, or
// probes it once its deadline has passed, or gets ErrShardDown: never
// another endpoint, nor another endpoint's probe.
func (m *opsModel) pickedShard(k int, mp *opsPool, key uint64, l lb.Lease, err error) {
	t := m.t
	now := mp.now()
	tracef(t, "op %d at %dµs: PickKeyUint64(%d) = %q probe=%v %v from %v", k, now, key, l.Endpoint(), l.Probe(), err, mp.eps)
	var e *opsEndpoint
	if mp.layout != nil {
		e = mp.find(mp.layout[paperJump(fmix64(key), len(mp.layout))]) // nil: an empty shard
	} else if len(mp.eps) > 0 {
		shards := slices.Clone(mp.eps)
		slices.SortFunc(shards, func(a, b *opsEndpoint) int {
			return cmp.Or(cmp.Compare(len(a.addr), len(b.addr)), strings.Compare(a.addr, b.addr))
		})
		e = shards[paperJump(fmix64(key), len(shards))]
	}
	if e == nil {
		if !errors.Is(err, lb.ErrShardDown) {
			t.Fatalf("op %d: PickKeyUint64(%d) with no shard for it (layout %q) = %q, %v; want ErrShardDown", k, key, mp.layout, l.Endpoint(), err)
		}
		return
	}
	switch {
	case e.state == lb.Up:
		if err != nil || l.Endpoint() != e.addr || l.Probe() {
			t.Fatalf("op %d: PickKeyUint64(%d) = %q probe=%v %v; want its shard %s", k, key, l.Endpoint(), l.Probe(), err, e.addr)
		}
		e.inflight++
		m.leases = append(m.leases, &opsLease{real: l, pool: mp, ep: e})
	case e.deadline <= now:
		if err != nil || l.Endpoint() != e.addr || !l.Probe() {
			t.Fatalf("op %d at %dµs: PickKeyUint64(%d) = %q probe=%v %v; want its shard %s's probe (%+v)", k, now, key, l.Endpoint(), l.Probe(), err, e.addr, *e)
		}
		m.probes++
		e.state, e.deadline, e.owner = lb.Probing, now+mp.probeFor, m.probes
		e.inflight++
		m.leases = append(m.leases, &opsLease{real: l, pool: mp, ep: e, probe: m.probes})
	default:
		if !errors.Is(err, lb.ErrShardDown) {
			t.Fatalf("op %d at %dµs: PickKeyUint64(%d) with its shard %s out = %q probe=%v %v; want ErrShardDown", k, now, key, e.addr, l.Endpoint(), l.Probe(), err)
		}
	}
	m.compare(mp)
}

// fmix64 is MurmurHash3's 64-bit finaliser.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// paperJump is jump consistent hash as printed in Lamping and Veach's paper.
func paperJump(key uint64, numBuckets int) int {
	var b, j int64 = -1, 0
	for j < int64(numBuckets) {
		b = j
		key = key*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(int64(1)<<31) / float64((key>>33)+1)))
	}
	return int(b)
}

// picked checks a Pick's result against the model and applies it.
func (m *opsModel) picked(k int, mp *opsPool, l lb.Lease, err error) {
	t := m.t
	now := mp.now()
	tracef(t, "op %d at %dµs: Pick = %q probe=%v %v from %v", k, now, l.Endpoint(), l.Probe(), err, mp.eps)
	for _, e := range mp.eps {
		if e.state != lb.Up && e.deadline <= now {
			if err != nil || !l.Probe() || l.Endpoint() != e.addr {
				t.Fatalf("op %d at %dµs: %s is due (%+v), Pick = %q probe=%v %v; want its probe", k, now, e.addr, *e, l.Endpoint(), l.Probe(), err)
			}
			m.probes++
			e.state, e.deadline, e.owner = lb.Probing, now+mp.probeFor, m.probes
			e.inflight++
			m.leases = append(m.leases, &opsLease{real: l, pool: mp, ep: e, probe: m.probes})
			m.compare(mp)
			return
		}
	}
	var up []*opsEndpoint
	var won *opsEndpoint
	for _, e := range mp.eps {
		if e.state == lb.Up {
			up = append(up, e)
			if e.addr == l.Endpoint() {
				won = e
			}
		}
	}
	streaks := false
	for _, e := range up {
		streaks = streaks || e.streak > 0
	}
	switch {
	case len(up) == 0 && (mp.pct >= 100 || len(mp.eps) == 0):
		if !errors.Is(err, lb.ErrNoEndpoint) {
			t.Fatalf("op %d: nothing up or due in %v, Pick = %q, %v; want ErrNoEndpoint", k, mp.eps, l.Endpoint(), err)
		}
		return
	case len(up) == 0:
		// Panic mode: below 100%, the endpoint whose deadline comes first
		// (the first in pool order on ties) is leased, as an early probe
		// if it is ejected, as an ordinary lease if a probe holds it.
		first := mp.eps[0]
		for _, e := range mp.eps {
			if e.deadline < first.deadline {
				first = e
			}
		}
		if err != nil || l.Endpoint() != first.addr || l.Probe() != (first.state == lb.Ejected) {
			t.Fatalf("op %d at %dµs: nothing up or due in %v, Pick = %q probe=%v %v; want panic mode on %s", k, now, mp.eps, l.Endpoint(), l.Probe(), err, first.addr)
		}
		first.inflight++
		ml := &opsLease{real: l, pool: mp, ep: first}
		if first.state == lb.Ejected {
			m.probes++
			first.state, first.deadline, first.owner = lb.Probing, now+mp.probeFor, m.probes
			ml.probe = m.probes
		}
		m.leases = append(m.leases, ml)
		m.compare(mp)
		return
	case err != nil || l.Probe() || won == nil:
		t.Fatalf("op %d: Pick = %q probe=%v %v; want an endpoint up of %v", k, l.Endpoint(), l.Probe(), err, up)
	case mp.policy == lb.P2C && len(up) >= 2 && !streaks:
		// (A streak doubles an endpoint's load but for a trial share, so
		// the check holds only among endpoints with none.)
		busiest := true
		for _, e := range up {
			busiest = busiest && (e == won || e.inflight < won.inflight)
		}
		if busiest {
			t.Fatalf("op %d: P2C picked %s with load %d, the strictly busiest endpoint up", k, won.addr, won.inflight)
		}
	case mp.policy == lb.LeastLoaded:
		// Ties go to a random one; a streak only adds load (but for a trial
		// share), so no endpoint without a streak had fewer leases.
		for _, e := range up {
			if e.streak == 0 && e.inflight < won.inflight {
				t.Fatalf("op %d: LeastLoaded picked %s with %d in flight; %s had %d and no streak", k, won.addr, won.inflight, e.addr, e.inflight)
			}
		}
	}
	won.inflight++
	m.leases = append(m.leases, &opsLease{real: l, pool: mp, ep: won})
	m.compare(mp)
}

// done ends a lease with err in the pool and in the model.
func (m *opsModel) done(k int, ml *opsLease, err error) {
	mp, e := ml.pool, ml.ep
	now := mp.now()
	tracef(m.t, "op %d at %dµs: Done(%v) on %s probe=%d done=%v", k, now, err, e.addr, ml.probe, ml.done)
	ml.real.Done(err)
	defer m.compare(mp)
	if ml.done {
		return // a finished lease: Done does nothing
	}
	ml.done = true
	e.inflight--
	if e.removed {
		return
	}
	owns := ml.probe != 0 && e.state == lb.Probing && e.owner == ml.probe
	switch kindOf(err) {
	case success:
		switch {
		case owns:
			*e = opsEndpoint{addr: e.addr, inflight: e.inflight}
		case e.state == lb.Up:
			e.streak, e.since = 0, 0
		}
	case cancelled:
		if owns {
			e.state, e.deadline, e.owner = lb.Ejected, 0, 0
		}
	case failure:
		switch {
		case owns:
			e.k = min(e.k+1, 63)
			e.state, e.deadline, e.owner = lb.Ejected, now+penalty(mp.ejectFor, mp.maxEjectFor, e.k), 0
		case e.state != lb.Up:
			// Only the probe that owns an endpoint decides while it is out;
			// a superseded probe's failure is an ordinary one.
		default:
			// A timeout ejects only once TimeoutGrace has passed since the
			// streak's first timeout.
			e.streak = min(e.streak+1, 255)
			timeout := errors.Is(err, context.DeadlineExceeded)
			if timeout && e.since == 0 {
				e.since = max(now, 1)
			}
			due := e.streak >= mp.ejectAfter && (!timeout || now-e.since >= mp.grace)
			if due && mp.out() < maxEjected(mp.pct, len(mp.eps)) {
				e.state, e.k, e.deadline, e.since = lb.Ejected, 1, now+penalty(mp.ejectFor, mp.maxEjectFor, 1), 0
			}
		}
	}
}

// sleep moves the clock: a microsecond, up to 255µs or 25.5ms, to the next
// deadline of any pool or a microsecond before it, or up to 255s.
func (m *opsModel) sleep() {
	next := time.Duration(-1)
	for _, mp := range m.pools {
		now := mp.now()
		for _, e := range mp.eps {
			if e.state != lb.Up && e.deadline > now {
				if d := time.Duration(e.deadline-now) * time.Microsecond; next < 0 || d < next {
					next = d
				}
			}
		}
	}
	var by int64
	switch m.tp.intn(6) {
	case 0:
		by = 1
	case 1:
		by = int64(m.tp.byte())
	case 2:
		by = int64(m.tp.byte()) * 100
	case 3:
		by = max(micros(next), 0)
	case 4:
		by = max(micros(next)-1, 0)
	case 5:
		by = int64(m.tp.byte()) * 1e6
	}
	tracef(m.t, "sleep %dµs", by)
	sleep(by)
	for _, mp := range m.pools {
		m.compare(mp) // the clock alone changes no snapshot
	}
}

// compare requires the pool's snapshot to match the model's.
func (m *opsModel) compare(mp *opsPool) {
	t := m.t
	es := mp.real.Endpoints()
	if len(es) != len(mp.eps) || mp.real.Len() != len(mp.eps) {
		t.Fatalf("pool has %d endpoints (Len %d): %+v; model has %d: %v", len(es), mp.real.Len(), es, len(mp.eps), mp.eps)
	}
	for i, e := range mp.eps {
		g := es[i]
		ok := g.Addr == e.addr && g.State == e.state && g.Streak == e.streak && g.Ejections == e.k && g.InFlight == e.inflight
		if e.state == lb.Up {
			ok = ok && g.Until.IsZero()
		} else {
			ok = ok && g.Until.Sub(mp.born) == time.Duration(e.deadline)*time.Microsecond
		}
		if !ok {
			t.Fatalf("at %dµs endpoint %d = %+v (deadline %dµs), model %+v", mp.now(), i, g, micros(g.Until.Sub(mp.born)), *e)
		}
	}
}

func (m *opsModel) checkRegistry(k int) {
	t := m.t
	if m.reg.Len() != len(m.names) {
		t.Fatalf("op %d: registry Len %d, model %d", k, m.reg.Len(), len(m.names))
	}
	for _, name := range opsNames {
		p, ok := m.reg.Get(name)
		mp := m.names[name]
		if ok != (mp != nil) || (mp != nil && p != mp.real) {
			t.Fatalf("op %d: Get(%q) = %p, %v; model has %v", k, name, p, ok, mp != nil)
		}
	}
}

// finish ends every lease still held as cancelled and requires every
// in-flight count, in the pools and the model, to be zero.
func (m *opsModel) finish() {
	for _, ml := range m.leases {
		if !ml.done {
			m.done(-1, ml, outcomes[2])
		}
	}
	for _, mp := range m.pools {
		m.compare(mp)
		for _, e := range mp.eps {
			if e.inflight != 0 {
				m.t.Fatalf("%s: in-flight %d after every lease ended", e.addr, e.inflight)
			}
		}
	}
}

func (e *opsEndpoint) String() string {
	return fmt.Sprintf("%s:%v/s%d/k%d/d%d/f%d", e.addr, e.state, e.streak, e.k, e.deadline, e.inflight)
}
