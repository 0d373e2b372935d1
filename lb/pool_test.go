package lb

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBadAddressesAreAnErrorAndLoseNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		addrs []string
	}{
		{"an empty address", []string{"a:1", ""}},
		{"an address given twice", []string{"b:1", "b:1"}},
	} {
		t.Run("New with "+tc.name, func(t *testing.T) {
			p, err := New(Config{}, tc.addrs...)
			if !errors.Is(err, ErrAddress) || p != nil {
				t.Fatalf("New = %v, %v; want nil and an error wrapping ErrAddress", p, err)
			}
		})
		t.Run("Add with "+tc.name, func(t *testing.T) {
			p := mustNew(t, Config{}, "x:1")
			before := p.Endpoints()
			if err := p.Add(tc.addrs...); !errors.Is(err, ErrAddress) {
				t.Fatalf("Add = %v, want an error wrapping ErrAddress", err)
			}
			if after := p.Endpoints(); !reflect.DeepEqual(before, after) {
				t.Fatalf("a rejected Add changed the pool: %v -> %v", before, after)
			}
		})
	}
	t.Run("Remove with an empty address", func(t *testing.T) {
		p := mustNew(t, Config{}, "a:1", "b:1")
		if err := p.Remove("a:1", ""); !errors.Is(err, ErrAddress) {
			t.Fatalf("Remove = %v, want an error wrapping ErrAddress", err)
		}
		if p.Len() != 2 {
			t.Fatal("a rejected Remove removed an endpoint")
		}
	})
}

func TestAnEmptyPoolHasNoEndpoint(t *testing.T) {
	for _, pol := range Policies() {
		p := mustNew(t, Config{Policy: pol})
		if _, err := p.Pick(); !errors.Is(err, ErrNoEndpoint) {
			t.Fatalf("%v: Pick on an empty pool = %v, want ErrNoEndpoint", pol, err)
		}
		if err := p.Add("a:1"); err != nil {
			t.Fatal(err)
		}
		if l, err := p.Pick(); err != nil || l.Endpoint() != "a:1" {
			t.Fatalf("%v: Pick after Add = %q, %v", pol, l.Endpoint(), err)
		}
	}
}

func TestAddMakesANewEndpointPickableAndHealthy(t *testing.T) {
	for _, pol := range Policies() {
		p := mustNew(t, Config{Policy: pol}, "a:1")
		if err := p.Add("b:1", "c:1"); err != nil {
			t.Fatal(err)
		}
		seen := holdCounts(t, p, 300)
		for _, a := range []string{"a:1", "b:1", "c:1"} {
			if seen[a] == 0 {
				t.Errorf("%v: %s never picked after Add: %v", pol, a, seen)
			}
			if e := mustStatus(t, p, a); e.State != Up || e.Streak != 0 {
				t.Errorf("%v: %s after Add = %+v, want up with no streak", pol, a, e)
			}
		}
	}
}

func TestAddOfAPresentAddressChangesNothing(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 5}, "a:1", "b:1")
	failTimes(t, p, "a:1", 3)
	held := leaseOn(t, p, "a:1")
	defer held.Done(nil)
	before := mustStatus(t, p, "a:1")
	if err := p.Add("a:1", "c:1"); err != nil {
		t.Fatal(err)
	}
	if after := mustStatus(t, p, "a:1"); after != before {
		t.Fatalf("Add of a present address changed it: %+v -> %+v", before, after)
	}
	if p.Len() != 3 {
		t.Fatalf("Len = %d, want 3", p.Len())
	}
}

func TestRemovedEndpointsAreNeverPickedAgain(t *testing.T) {
	for _, pol := range Policies() {
		p := mustNew(t, Config{Policy: pol}, "a:1", "b:1", "c:1")
		if err := p.Remove("b:1", "not-there:1"); err != nil {
			t.Fatal(err)
		}
		if seen := pickCounts(t, p, 1000); seen["b:1"] != 0 {
			t.Fatalf("%v: removed endpoint picked %d times", pol, seen["b:1"])
		}
		if _, ok := status(p, "b:1"); ok {
			t.Fatalf("%v: removed endpoint still listed", pol)
		}
	}
}

// A Pick that starts after Remove returned must never hand the endpoint out,
// however many Picks race with the removal.
func TestNoPickAfterRemoveReturnedUnderConcurrency(t *testing.T) {
	for _, pol := range Policies() {
		t.Run(pol.String(), func(t *testing.T) {
			for round := range 20 {
				victim := fmt.Sprintf("v:%d", round)
				p := mustNew(t, Config{Policy: pol}, "a:1", "b:1", victim)
				var removed atomic.Bool
				var bad atomic.Int64
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						for range 2000 {
							after := removed.Load()
							l, err := p.Pick()
							if err != nil {
								bad.Add(1)
								return
							}
							if after && l.Endpoint() == victim {
								bad.Add(1)
							}
							l.Done(nil)
						}
					})
				}
				if err := p.Remove(victim); err != nil {
					t.Fatal(err)
				}
				removed.Store(true)
				wg.Wait()
				if bad.Load() != 0 {
					t.Fatalf("%d Picks started after Remove returned got the removed endpoint (or failed)", bad.Load())
				}
			}
		})
	}
}

func TestLeasesOnARemovedEndpointFinishSafely(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 1, MaxEjectedPercent: 100}, "a:1", "b:1")
	ok, failing := leaseOn(t, p, "a:1"), leaseOn(t, p, "a:1")
	if err := p.Remove("a:1"); err != nil {
		t.Fatal(err)
	}
	ok.Done(nil)
	failing.Done(errBackend)
	if got := p.counts.ejected.Load(); got != 0 {
		t.Fatalf("a failure on a removed endpoint counted as an ejection: %d", got)
	}
	if e := mustStatus(t, p, "b:1"); e.State != Up || e.InFlight != 0 {
		t.Fatalf("other endpoint disturbed: %+v", e)
	}
}

func TestAReAddedAddressStartsFresh(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 2, EjectFor: time.Hour, MaxEjectedPercent: 100}, "a:1", "b:1")
	old := leaseOn(t, p, "a:1")
	failTimes(t, p, "a:1", 2)
	if e := mustStatus(t, p, "a:1"); e.State != Ejected {
		t.Fatalf("setup: a:1 = %+v, want ejected", e)
	}
	if err := p.Remove("a:1"); err != nil {
		t.Fatal(err)
	}
	if err := p.Add("a:1"); err != nil {
		t.Fatal(err)
	}
	if e := mustStatus(t, p, "a:1"); e.State != Up || e.Streak != 0 || e.InFlight != 0 || e.Ejections != 0 {
		t.Fatalf("re-added a:1 = %+v, want a fresh endpoint", e)
	}
	old.Done(errBackend) // the old incarnation's lease must not touch the new one
	if e := mustStatus(t, p, "a:1"); e.Streak != 0 || e.InFlight != 0 {
		t.Fatalf("old lease changed the re-added endpoint: %+v", e)
	}
	if p.counts.ejected.Load() != 0 {
		t.Fatalf("ejection budget still holds the removed endpoint: %d", p.counts.ejected.Load())
	}
}

func TestMembershipChangesKeepOtherEndpointsState(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 3, EjectFor: time.Hour, MaxEjectedPercent: 100}, "ejected:1", "streak:1", "busy:1", "gone:1")
	failTimes(t, p, "ejected:1", 3)
	failTimes(t, p, "streak:1", 2)
	held := leaseOn(t, p, "busy:1")
	defer held.Done(nil)
	before := map[string]EndpointStatus{}
	for _, a := range []string{"ejected:1", "streak:1", "busy:1"} {
		before[a] = mustStatus(t, p, a)
	}
	if err := p.Add("new:1"); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove("gone:1"); err != nil {
		t.Fatal(err)
	}
	for a, want := range before {
		if got := mustStatus(t, p, a); got != want {
			t.Errorf("%s changed across Add and Remove: %+v -> %+v", a, want, got)
		}
	}
}

func TestRemovingAnEjectedEndpointFreesItsBudget(t *testing.T) {
	p := mustNew(t, Config{EjectAfter: 1, EjectFor: time.Hour, MaxEjectedPercent: 10}, "a:1", "b:1", "c:1") // budget: 1 of 3
	failTimes(t, p, "a:1", 1)
	failTimes(t, p, "b:1", 1)
	if e := mustStatus(t, p, "b:1"); e.State != Up {
		t.Fatalf("setup: b:1 ejected past the budget: %+v", e)
	}
	if err := p.Remove("a:1"); err != nil {
		t.Fatal(err)
	}
	failTimes(t, p, "b:1", 1)
	if e := mustStatus(t, p, "b:1"); e.State != Ejected {
		t.Fatalf("b:1 = %+v after the ejected endpoint left, want ejected", e)
	}
}

// Churn: Picks and Dones on every goroutine while endpoints come and go.
// Afterwards every in-flight count is zero and nothing panicked.
func TestPickDoneWhileMembershipChurns(t *testing.T) {
	for _, pol := range Policies() {
		t.Run(pol.String(), func(t *testing.T) {
			p := mustNew(t, Config{Policy: pol, EjectAfter: 3, EjectFor: time.Millisecond}, "a:1", "b:1", "c:1")
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						l, err := p.Pick()
						if err != nil {
							continue
						}
						switch i % 7 {
						case 0:
							l.Done(errBackend)
						case 1:
							l.Done(context.Canceled)
						default:
							l.Done(nil)
						}
						_ = w
					}
				})
			}
			for i := range 300 {
				a := fmt.Sprintf("churn:%d", i%5)
				if err := p.Add(a); err != nil {
					t.Fatal(err)
				}
				if err := p.Remove(fmt.Sprintf("churn:%d", (i+2)%5)); err != nil {
					t.Fatal(err)
				}
			}
			close(stop)
			wg.Wait()
			for _, e := range p.Endpoints() {
				if e.InFlight != 0 {
					t.Errorf("%s: in-flight %d after every lease ended", e.Addr, e.InFlight)
				}
			}
		})
	}
}
