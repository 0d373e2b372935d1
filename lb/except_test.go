package lb

import (
	"errors"
	"slices"
	"testing"
)

func addrsOf(p *Pool) []string {
	var out []string
	for _, e := range p.Endpoints() {
		out = append(out, e.Addr)
	}
	return out
}

func TestSetDeclaresTheWholeMembershipAndKeepsWhatStays(t *testing.T) {
	for _, policy := range Policies() {
		t.Run(policy.String(), func(t *testing.T) {
			p := mustNew(t, Config{Policy: policy, EjectAfter: 100}, "a", "b", "c")
			failTimes(t, p, "b", 2)
			held := leaseOn(t, p, "b")
			if err := p.Set(Endpoint{Addr: "b", Weight: 3}, Endpoint{Addr: "d"}); err != nil {
				t.Fatal(err)
			}
			if got, want := addrsOf(p), []string{"b", "d"}; !slices.Equal(got, want) {
				t.Fatalf("members %v, want %v", got, want)
			}
			b := mustStatus(t, p, "b")
			if b.Streak != 2 || b.InFlight != 1 || b.Weight != 3 {
				t.Errorf("b after Set: %+v, want streak 2, 1 in flight, weight 3", b)
			}
			if d := mustStatus(t, p, "d"); d.Streak != 0 || d.InFlight != 0 || d.Weight != 1 || d.State != Up {
				t.Errorf("d after Set: %+v, want a fresh endpoint", d)
			}
			held.Done(nil)
			for range 200 {
				l, err := p.Pick()
				if err != nil {
					t.Fatal(err)
				}
				if a := l.Endpoint(); a != "b" && a != "d" {
					t.Fatalf("Pick after Set returned removed %s", a)
				}
				l.Done(nil)
			}
		})
	}
}

func TestSetWithBadInputChangesNothing(t *testing.T) {
	p := mustNew(t, Config{}, "a", "b")
	for _, bad := range [][]Endpoint{
		{{Addr: "a"}, {Addr: ""}},
		{{Addr: "a", Weight: 5}, {Addr: "b"}, {Addr: "a"}}, // a weight change, then a duplicate
		{{Addr: "a"}, {Addr: "a"}},
		{{Addr: "c", Weight: -1}},
		{{Addr: "c", Weight: MaxWeight + 1}},
	} {
		if err := p.Set(bad...); !errors.Is(err, ErrAddress) {
			t.Errorf("Set(%v) = %v, want ErrAddress", bad, err)
		}
		if got := addrsOf(p); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("members after a rejected Set: %v", got)
		}
		for _, e := range p.Endpoints() {
			if e.Weight != 1 {
				t.Fatalf("%s has weight %d after a rejected Set, want 1", e.Addr, e.Weight)
			}
		}
	}
}

func TestSetOfTheSameMembershipPublishesNothing(t *testing.T) {
	p := mustNew(t, Config{}, "a", "b")
	v := p.view.Load()
	if err := p.Set(Endpoint{Addr: "b"}, Endpoint{Addr: "a", Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if p.view.Load() != v {
		t.Error("Set of the same membership published a new view")
	}
}

func TestWeightChangedBySetSteersWeightedRoundRobin(t *testing.T) {
	p := mustNew(t, Config{Policy: WeightedRoundRobin}, "a", "b")
	if err := p.Set(Endpoint{Addr: "a", Weight: 3}, Endpoint{Addr: "b", Weight: 1}); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for range 4000 {
		l, _ := p.Pick()
		counts[l.Endpoint()]++
		l.Done(nil)
	}
	if counts["a"] != 3000 || counts["b"] != 1000 {
		t.Errorf("shares after reweighing 3:1: %v", counts)
	}
}

func TestPickExceptAvoidsTriedEndpointsWhileAnotherIsUp(t *testing.T) {
	for _, policy := range Policies() {
		t.Run(policy.String(), func(t *testing.T) {
			p := mustNew(t, Config{Policy: policy}, "a", "b", "c")
			for range 300 {
				l, err := p.PickExcept("a", "b")
				if err != nil {
					t.Fatal(err)
				}
				if l.Endpoint() != "c" {
					t.Fatalf("PickExcept(a, b) returned %s", l.Endpoint())
				}
				l.Done(nil)
			}
			l, err := p.PickExcept("a", "b", "c")
			if err != nil || l.Endpoint() == "" {
				t.Fatalf("PickExcept of every endpoint: %q, %v; want a lease on one", l.Endpoint(), err)
			}
			l.Done(nil)
			for _, e := range p.Endpoints() {
				if e.InFlight != 0 {
					t.Errorf("%s has %d in flight after every lease ended", e.Addr, e.InFlight)
				}
			}
		})
	}
}
