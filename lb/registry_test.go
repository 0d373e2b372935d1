package lb

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nanolb/nanolb/internal/keyhash"
)

func TestEnsureIsCreateOnce(t *testing.T) {
	r := NewRegistry()
	p, err := r.Ensure("users", Config{Policy: RoundRobin}, "a:1", "b:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Remove("b:1"); err != nil {
		t.Fatal(err)
	}
	// A lazy Ensure on every request: the same pool, untouched.
	again, err := r.Ensure("users", Config{Policy: P2C}, "a:1", "b:1", "c:1")
	if err != nil || again != p {
		t.Fatalf("second Ensure = %p, %v; want the first pool %p", again, err, p)
	}
	if p.Len() != 1 || p.Policy() != RoundRobin {
		t.Fatalf("Ensure changed the existing pool: %d endpoints, %v", p.Len(), p.Policy())
	}
}

func TestConcurrentEnsureCreatesOnePool(t *testing.T) {
	r := NewRegistry()
	pools := make([]*Pool, 32)
	var wg sync.WaitGroup
	for g := range pools {
		wg.Go(func() {
			p, err := r.Ensure("orders", Config{}, "a:1")
			if err != nil {
				t.Error(err)
			}
			pools[g] = p
		})
	}
	wg.Wait()
	for _, p := range pools {
		if p != pools[0] || p == nil {
			t.Fatal("concurrent Ensure of one name returned different pools")
		}
	}
	if r.Len() != 1 {
		t.Fatalf("registry holds %d pools", r.Len())
	}
}

func TestRegistryPickRoutesByName(t *testing.T) {
	r := NewRegistry()
	if _, err := r.Ensure("a", Config{}, "a:1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Ensure("b", Config{}, "b:1"); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "a:1", "b": "b:1"} {
		l, err := r.Pick(name)
		if err != nil || l.Endpoint() != want {
			t.Fatalf("Pick(%q) = %q, %v", name, l.Endpoint(), err)
		}
		l.Done(nil)
	}
	if _, err := r.Pick("nope"); !errors.Is(err, ErrNoPool) {
		t.Fatalf("Pick of an unknown name = %v, want ErrNoPool", err)
	}
}

func TestDeleteForgetsThePoolAndKeepsLeasesSafe(t *testing.T) {
	r := NewRegistry()
	p, _ := r.Ensure("users", Config{}, "a:1")
	l, err := r.Pick("users")
	if err != nil {
		t.Fatal(err)
	}
	if !r.Delete("users") || r.Delete("users") {
		t.Fatal("Delete should report true once, then false")
	}
	if _, err := r.Pick("users"); !errors.Is(err, ErrNoPool) {
		t.Fatalf("Pick after Delete = %v, want ErrNoPool", err)
	}
	l.Done(errBackend)
	if e := mustStatus(t, p, "a:1"); e.InFlight != 0 {
		t.Fatalf("lease on a deleted pool left in-flight %d", e.InFlight)
	}
	fresh, _ := r.Ensure("users", Config{}, "z:1")
	if fresh == p {
		t.Fatal("Ensure after Delete returned the deleted pool")
	}
}

func TestEnsureRejectsBadInputAndStoresNothing(t *testing.T) {
	r := NewRegistry()
	if _, err := r.Ensure("", Config{}, "a:1"); !errors.Is(err, ErrName) {
		t.Fatalf("empty name: %v, want ErrName", err)
	}
	if _, err := r.Ensure("x", Config{EjectAfter: -2}, "a:1"); !errors.Is(err, ErrConfig) {
		t.Fatalf("bad config: %v, want ErrConfig", err)
	}
	if _, err := r.Ensure("x", Config{}, "a:1", "a:1"); !errors.Is(err, ErrAddress) {
		t.Fatalf("duplicate address: %v, want ErrAddress", err)
	}
	if r.Len() != 0 {
		t.Fatalf("rejected Ensure calls stored %d pools", r.Len())
	}
	if p, err := r.Ensure("x", Config{}, "a:1"); err != nil || p == nil {
		t.Fatalf("a good Ensure after bad ones: %v", err)
	}
}

func TestRegistryOffersEveryPickAPoolOffers(t *testing.T) {
	r := NewRegistry()
	p, err := r.EnsureEndpoints("svc", Config{Policy: ConsistentHash}, Endpoint{Addr: "a:1", Weight: 2}, Endpoint{Addr: "b:1"})
	if err != nil {
		t.Fatal(err)
	}
	if e := mustStatus(t, p, "a:1"); e.Weight != 2 {
		t.Fatalf("EnsureEndpoints lost the weight: %+v", e)
	}
	own, _ := p.PickKey("user-7")
	want := own.Endpoint()
	own.Done(nil)
	for _, pick := range []func() (Lease, error){
		func() (Lease, error) { return r.PickKey("svc", "user-7") },
		func() (Lease, error) { return r.PickKeyUint64("svc", keyhash.String("user-7")) },
	} {
		l, err := pick()
		if err != nil || l.Endpoint() != want {
			t.Fatalf("registry key pick: %q, %v; the pool's own: %q", l.Endpoint(), err, want)
		}
		l.Done(nil)
	}
	if l, err := r.PickExcept("svc", "a:1"); err != nil || l.Endpoint() != "b:1" {
		t.Fatalf("PickExcept(a:1) = %q, %v", l.Endpoint(), err)
	} else {
		l.Done(nil)
	}
	for _, pick := range []func() (Lease, error){
		func() (Lease, error) { return r.PickKey("none", "k") },
		func() (Lease, error) { return r.PickKeyUint64("none", 1) },
		func() (Lease, error) { return r.PickExcept("none") },
	} {
		if _, err := pick(); !errors.Is(err, ErrNoPool) {
			t.Fatalf("pick on a missing pool: %v, want ErrNoPool", err)
		}
	}
}

func TestRegistryAllAndSnapshotCoverEveryPool(t *testing.T) {
	r := NewRegistry()
	want := map[string]int{}
	for i := range 20 {
		name := fmt.Sprint("svc-", i)
		if _, err := r.Ensure(name, Config{Policy: Policy(i % len(Policies()))}, addrs(i%4+1)...); err != nil {
			t.Fatal(err)
		}
		want[name] = i%4 + 1
	}
	busy, _ := r.Get("svc-3")
	held, _ := busy.Pick()

	seen := map[string]int{}
	for name, p := range r.All() {
		if got, _ := r.Get(name); got != p {
			t.Fatalf("All yielded %q with a pool other than Get's", name)
		}
		seen[name] = p.Len()
	}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("All saw %v; want %v", seen, want)
	}

	snap := r.Snapshot()
	if len(snap) != len(want) {
		t.Fatalf("Snapshot has %d pools; want %d", len(snap), len(want))
	}
	inflight := int64(0)
	for name, eps := range snap {
		if len(eps) != want[name] {
			t.Fatalf("Snapshot[%q] has %d endpoints; want %d", name, len(eps), want[name])
		}
		for _, e := range eps {
			inflight += e.InFlight
		}
	}
	if inflight != 1 || snap["svc-3"][0].InFlight+snap["svc-3"][1].InFlight+snap["svc-3"][2].InFlight+snap["svc-3"][3].InFlight != 1 {
		t.Fatalf("Snapshot shows %d leases in flight; want svc-3's one", inflight)
	}
	held.Done(nil)

	// Stopping early, and deleting while iterating.
	n := 0
	for range r.All() {
		n++
		break
	}
	for name := range r.All() {
		r.Delete(name)
	}
	if n != 1 || r.Len() != 0 || len(r.Snapshot()) != 0 {
		t.Fatalf("break after %d pools; after deleting in the loop %d pools remain", n, r.Len())
	}
}

// A pool that Delete removes while Ensure creates it ends up with no
// registry subscriber attached: none keeps its dispatcher running, or is
// sent the events of a pool no longer in the registry.
func TestEnsureRacingDeleteLeavesNoSubscriberOnADeletedPool(t *testing.T) {
	r := NewRegistry()
	s, _ := r.Subscribe(SubscribeOptions{Interval: time.Hour})
	defer s.Close()
	var mu sync.Mutex
	created := map[*Pool]bool{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 150 {
				p, _ := r.Ensure("svc", Config{}, "a:1")
				mu.Lock()
				created[p] = true
				mu.Unlock()
				r.Delete("svc")
			}
		})
	}
	wg.Wait()
	kept := 0
	for p := range created {
		if p.hub.Load() != nil {
			kept++
		}
	}
	if kept > 0 {
		t.Fatalf("%d of %d deleted pools kept a registry subscriber", kept, len(created))
	}
}
