package lb

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nanolb/nanolb/internal/subset"
)

// addrsN is "b00".."b(n-1)".
func addrsN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("b%02d", i)
	}
	return out
}

// members is the pool's endpoints, sorted.
func members(p *Pool) []string {
	var out []string
	for _, e := range p.Endpoints() {
		out = append(out, e.Addr)
	}
	slices.Sort(out)
	return out
}

// A subsetting pool's members are its client's subset by its rule, of
// whatever it was given last.
func TestSubsetMembersAreTheRulesSubset(t *testing.T) {
	rules := map[SubsetRule]func(uint64, []string, int) []string{
		SubsetRing:          subset.Consistent,
		SubsetDeterministic: subset.Deterministic,
		SubsetRendezvous:    subset.Rendezvous,
	}
	all := addrsN(40)
	for rule, want := range rules {
		for _, client := range []uint64{0, 1, 7, 123} {
			t.Run(fmt.Sprintf("rule=%v/client=%d", rule, client), func(t *testing.T) {
				p := mustNew(t, Config{Subset: Subset{Size: 5, Client: client, Rule: rule}}, all[:30]...)
				if got := members(p); !slices.Equal(got, want(client, all[:30], 5)) {
					t.Fatalf("members %v, want %v", got, want(client, all[:30], 5))
				}
				if err := p.Add(all[30:]...); err != nil {
					t.Fatal(err)
				}
				if got := members(p); !slices.Equal(got, want(client, all, 5)) {
					t.Fatalf("after Add: members %v, want %v", got, want(client, all, 5))
				}
				if err := p.Remove(all[:10]...); err != nil {
					t.Fatal(err)
				}
				if got := members(p); !slices.Equal(got, want(client, all[10:], 5)) {
					t.Fatalf("after Remove: members %v, want %v", got, want(client, all[10:], 5))
				}
				eps := weightOne(all[5:25])
				if err := p.Set(eps...); err != nil {
					t.Fatal(err)
				}
				if got := members(p); !slices.Equal(got, want(client, all[5:25], 5)) {
					t.Fatalf("after Set: members %v, want %v", got, want(client, all[5:25], 5))
				}
				if st := p.SubsetStatus(); st != (SubsetStatus{Size: 5, Given: 20, Members: 5}) {
					t.Fatalf("SubsetStatus = %+v", st)
				}
			})
		}
	}
}

// Under the ring rule a change of one endpoint moves at most one member,
// and the members that stay keep their state (here a failure streak).
func TestSubsetChangesKeepTheMembersThatStay(t *testing.T) {
	all := addrsN(61)
	p := mustNew(t, Config{Subset: Subset{Size: 8, Client: 3}, Outlier: Outlier{Off: true}}, all[:60]...)
	before := members(p)
	failTimes(t, p, before[0], 2)
	if err := p.Add(all[60]); err != nil {
		t.Fatal(err)
	}
	after := members(p)
	if moved := len(after) - countCommon(before, after); moved > 1 {
		t.Fatalf("adding one endpoint moved %d members: %v -> %v", moved, before, after)
	}
	if slices.Contains(after, before[0]) {
		if s := mustStatus(t, p, before[0]); s.Streak != 2 {
			t.Fatalf("%s's streak is %d after a membership change, want 2", before[0], s.Streak)
		}
	}
	if err := p.Remove(after[1]); err != nil {
		t.Fatal(err)
	}
	if moved := len(after) - countCommon(after, members(p)); moved != 1 {
		t.Fatalf("removing a member changed %d members, want 1", moved)
	}
}

func countCommon(a, b []string) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}

// When the subset's ejected endpoints reach the cap on its size the pool
// widens by as many endpoints from outside it, which serve meanwhile, and
// narrows back once the subset has none ejected.
func TestSubsetWidensPastTheEjectionCapAndNarrowsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{
			Subset:   Subset{Size: 4, Client: 1},
			Outlier:  Outlier{Off: true},
			EjectFor: time.Second, MaxEjectFor: time.Second, EjectAfter: 1, NoJitter: true,
		}
		all := addrsN(20)
		p := mustNew(t, cfg, all...)
		base := members(p)
		failTimes(t, p, base[0], 1)
		synctest.Wait()
		if st := p.SubsetStatus(); st.Extra != 0 || st.Members != 4 {
			t.Fatalf("one of 4 ejected (cap 2): %+v, want no extras", st)
		}
		failTimes(t, p, base[1], 1)
		synctest.Wait()
		st := p.SubsetStatus()
		if st.Extra != 2 || st.Members != 6 {
			t.Fatalf("two of 4 ejected (the cap): %+v, want 2 extras", st)
		}
		wide := members(p)
		extras := slices.DeleteFunc(slices.Clone(wide), func(a string) bool { return slices.Contains(base, a) })
		if want := subset.Rendezvous(1, slices.DeleteFunc(slices.Clone(all), func(a string) bool { return slices.Contains(base, a) }), 2); !slices.Equal(extras, want) {
			t.Fatalf("extras %v, want the rendezvous choice %v", extras, want)
		}
		picked := pickCounts(t, p, 600)
		for _, a := range extras {
			if picked[a] == 0 {
				t.Fatalf("extra %s got no picks of 600: %v", a, picked)
			}
		}
		// Cooldowns pass; probes succeed; the subset is whole again.
		time.Sleep(2 * time.Second)
		for range 100 {
			l, err := p.Pick()
			if err != nil {
				t.Fatal(err)
			}
			l.Done(nil)
		}
		synctest.Wait()
		if st := p.SubsetStatus(); st.Extra != 0 || st.Members != 4 {
			t.Fatalf("after the subset recovered: %+v, want 4 members and no extras", st)
		}
		if got := members(p); !slices.Equal(got, base) {
			t.Fatalf("members %v after narrowing, want the subset %v", got, base)
		}
	})
}

func TestSubsetConfigErrors(t *testing.T) {
	for _, s := range []Subset{
		{Size: -1}, {Size: maxSubset + 1}, {Client: 3}, {Rule: SubsetRendezvous}, {Size: 3, Rule: 9},
	} {
		if _, err := New(Config{Subset: s}, "a"); !errors.Is(err, ErrConfig) {
			t.Errorf("New with %+v: %v, want ErrConfig", s, err)
		}
	}
	p := mustNew(t, Config{Subset: Subset{Size: 2}}, "a", "b", "c")
	if err := p.Set(Endpoint{Addr: "a"}, Endpoint{Addr: "a"}); !errors.Is(err, ErrAddress) {
		t.Fatalf("Set with a repeated address: %v, want ErrAddress", err)
	}
	if got := p.SubsetStatus(); got.Given != 3 || got.Members != 2 {
		t.Fatalf("a refused Set changed the pool: %+v", got)
	}
	if got := mustNew(t, Config{}, "a", "b").SubsetStatus(); got != (SubsetStatus{Given: 2, Members: 2}) {
		t.Fatalf("SubsetStatus without subsetting = %+v", got)
	}
}

// With zones, the subset takes each zone's share of Size, rounded down or
// up by the client so that a fleet's subsets hold each zone in
// proportion, from that zone by the rule.
func TestSubsetWithZonesTakesEachZonesShare(t *testing.T) {
	var eps []Endpoint
	byZone := map[string][]string{}
	sizes := map[string]int{"a": 50, "b": 100, "c": 150}
	for z, n := range sizes {
		for i := range n {
			a := fmt.Sprintf("%s%03d", z, i)
			eps = append(eps, Endpoint{Addr: a, Zone: z})
			byZone[z] = append(byZone[z], a)
		}
	}
	for _, size := range []int{7, 10, 30} {
		sum := map[string]int{}
		const clients = 1000
		for client := range uint64(clients) {
			q := zoneQuotas(byZone, size, client)
			n := 0
			for z, k := range q {
				exact := float64(size*sizes[z]) / 300
				if float64(k) < math.Floor(exact) || float64(k) > math.Ceil(exact) {
					t.Fatalf("size %d, client %d: zone %s takes %d, exact share %.3f", size, client, z, k, exact)
				}
				n += k
				sum[z] += k
			}
			if n != size {
				t.Fatalf("size %d, client %d: quotas %v sum to %d", size, client, q, n)
			}
		}
		for z, k := range sum {
			if got, want := float64(k)/clients, float64(size*sizes[z])/300; math.Abs(got-want) > 0.01 {
				t.Errorf("size %d: zone %s's mean share over %d clients %.4f, want %.4f", size, z, clients, got, want)
			}
		}
	}
	p, err := NewWeighted(Config{Subset: Subset{Size: 10, Client: 4}, Zones: Zones{Local: "b"}}, eps...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var want []string
	for z, n := range zoneQuotas(byZone, 10, 4) {
		want = append(want, subset.Consistent(4, byZone[z], n)...)
	}
	slices.Sort(want)
	if got := members(p); !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v", got, want)
	}
}
