package lb

import (
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// chTable is p's current ConsistentHash table.
func chTable(p *Pool) *consistentHashTable { return p.tables.consistentHash.Load() }

// settleHash waits until p's background rebuild, if any, is done.
func settleHash(p *Pool) { chTable(p).builds.settle() }

// gateBuilds makes each of p's background builds wait, in its goroutine,
// until the test calls the returned release; entered receives once as each
// build reaches the gate.
func gateBuilds(t *testing.T, p *Pool) (entered <-chan struct{}, release func()) {
	in, gate := make(chan struct{}, 100), make(chan struct{})
	b := chTable(p).builds
	b.testHookBuild = func() {
		in <- struct{}{}
		<-gate
	}
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(func() {
		release()
		b.settle()
		b.testHookBuild = nil
	})
	return in, release
}

// requireFromScratch fails unless p's lookup table is exactly the one
// buildMaglev makes for p's current membership, entry by entry.
func requireFromScratch(t *testing.T, p *Pool) {
	t.Helper()
	tab := chTable(p)
	if tab.view != p.view.Load() {
		t.Fatalf("the table is of a membership of %d endpoints, not the pool's current one (%d)", len(tab.view.cores), p.Len())
	}
	want := buildMaglev[uint16](tab.view.cores, p.cfg.hashReplicas)
	l := tab.lookup
	if len(l.owners) != len(tab.slots) || (len(l.owners) > 0 && &l.owners[0] != &tab.slots[0]) {
		t.Fatalf("the lookup table names %d endpoints of another membership, not the pool's %d", len(l.owners), len(tab.slots))
	}
	if !slices.Equal(l.small, want) {
		t.Fatalf("the lookup table (%d entries) differs from the one built from scratch (%d)", len(l.small), len(want))
	}
}

// A change on a pool past maxSyncMaglev entries returns while the rebuild
// is held at its start; meanwhile no key goes to a removed endpoint or to
// a new one, and the keys of endpoints that stay do not move. Once the
// build runs, the table is exactly the from-scratch table of the final
// membership, and its goroutine is gone.
func TestConsistentHashRebuildsAfterTheChangeReturns(t *testing.T) {
	const n, keys = 1000, 20000
	goroutines := runtime.NumGoroutine()
	as := addrs(n)
	p := mustNew(t, Config{Policy: ConsistentHash}, as...)
	if maglevSize(n, p.cfg.hashReplicas) <= maxSyncMaglev {
		t.Fatalf("a pool of %d endpoints is built synchronously: the test needs a larger one", n)
	}
	before := keyOwners(t, p, keys)
	entered, release := gateBuilds(t, p)

	removed := map[string]bool{}
	for _, a := range as[:20] {
		removed[a] = true
	}
	if err := p.Remove(as[:20]...); err != nil {
		t.Fatal(err)
	}
	<-entered // the build goroutine is held; the Remove returned before it built
	if err := p.Add("new-a:1", "new-b:1"); err != nil {
		t.Fatal(err)
	}
	during := keyOwners(t, p, keys)
	for k := range during {
		switch {
		case removed[during[k]]:
			t.Fatalf("key %d went to the removed %s during the rebuild", k, during[k])
		case during[k] == "new-a:1" || during[k] == "new-b:1":
			t.Fatalf("key %d went to the new %s before the rebuild", k, during[k])
		case !removed[before[k]] && during[k] != before[k]:
			t.Fatalf("key %d of %s, which stayed, moved to %s during the rebuild", k, before[k], during[k])
		}
	}
	if b := chTable(p).builds.builds.Load(); b != 0 {
		t.Fatalf("%d builds finished while the build goroutine was held", b)
	}

	release()
	settleHash(p)
	requireFromScratch(t, p)
	final := append(slices.Clone(as[20:]), "new-a:1", "new-b:1")
	fresh := mustNew(t, Config{Policy: ConsistentHash}, final...)
	if got, want := keyOwners(t, p, keys), keyOwners(t, fresh, keys); !slices.Equal(got, want) {
		t.Fatal("after the rebuild, keys route differently from a new pool of the same endpoints")
	}
	waitFor(t, "the build goroutine to end", func() bool { return runtime.NumGoroutine() <= goroutines })
}

// Changes that arrive while a build runs are coalesced: one more build,
// from the newest membership, however many there were.
func TestConsistentHashCoalescesChangesDuringABuild(t *testing.T) {
	const n = 1000
	as := addrs(n)
	p := mustNew(t, Config{Policy: ConsistentHash}, as...)
	entered, release := gateBuilds(t, p)
	if err := p.Remove(as[0]); err != nil {
		t.Fatal(err)
	}
	<-entered
	for i := range 30 {
		if err := p.Add(fmt.Sprintf("new-%d:1", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Set(endpointsOf(as[100:])...); err != nil {
		t.Fatal(err)
	}
	release()
	settleHash(p)
	if b := chTable(p).builds.builds.Load(); b != 2 {
		t.Errorf("32 changes, the last 31 during a build: %d builds, want 2", b)
	}
	requireFromScratch(t, p)
}

// A build whose membership was replaced meanwhile, here by a change small
// enough to build its own table at once, is dropped: it would bring the old
// membership back.
func TestConsistentHashDropsAStaleBuild(t *testing.T) {
	as := addrs(1000)
	p := mustNew(t, Config{Policy: ConsistentHash}, as...)
	entered, release := gateBuilds(t, p)
	if err := p.Remove(as[0]); err != nil {
		t.Fatal(err)
	}
	<-entered
	if err := p.Set(endpointsOf(as[1:100])...); err != nil {
		t.Fatal(err)
	}
	release()
	settleHash(p)
	if b := chTable(p).builds.builds.Load(); b != 1 {
		t.Fatalf("%d background builds, want the 1 that went stale", b)
	}
	if got := addrsOf(p); !slices.Equal(got, as[1:100]) {
		t.Fatalf("after the stale build the pool has %d endpoints, want 99", len(got))
	}
	requireFromScratch(t, p)
}

// Up to maxSyncMaglev entries the table is rebuilt within the change, so
// keys route by it as soon as the change returns; one past, the change
// leaves the build to the background.
func TestConsistentHashBuildsSmallTablesWithinTheChange(t *testing.T) {
	last := maxSyncMaglev / DefaultHashReplicas // endpoints a synchronous table holds
	for _, c := range []struct {
		n          int
		background bool
	}{{8, false}, {last - 1, false}, {last, true}} {
		t.Run(fmt.Sprintf("%d endpoints plus one", c.n), func(t *testing.T) {
			p := mustNew(t, Config{Policy: ConsistentHash}, addrs(c.n)...)
			if err := p.Add("new:1"); err != nil {
				t.Fatal(err)
			}
			if !c.background {
				requireFromScratch(t, p) // before any wait
			}
			settleHash(p)
			if got := chTable(p).builds.builds.Load() == 1; got != c.background {
				t.Errorf("built in the background: %v, want %v", got, c.background)
			}
			requireFromScratch(t, p)
		})
	}
}

// A pool emptied and filled again past maxSyncMaglev has no table to route
// with until the build: keys go to any endpoint up meanwhile, never fail.
func TestConsistentHashRoutesWhileItsFirstTableIsBuilt(t *testing.T) {
	as := addrs(1000)
	p := mustNew(t, Config{Policy: ConsistentHash})
	entered, release := gateBuilds(t, p)
	if err := p.Set(endpointsOf(as)...); err != nil {
		t.Fatal(err)
	}
	<-entered
	for k := range 100 {
		l, err := p.PickKeyUint64(uint64(k))
		if err != nil {
			t.Fatalf("PickKey before the first table is built: %v", err)
		}
		l.Done(nil)
	}
	release()
	settleHash(p)
	requireFromScratch(t, p)
}

// Inside a synctest bubble the build goroutine belongs to the bubble:
// synctest.Wait returns once it has published and ended, and the bubble
// ends with no goroutine left.
func TestConsistentHashRebuildsInsideABubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := mustNew(t, Config{Policy: ConsistentHash}, addrs(1000)...)
		if err := p.Add("new:1"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		requireFromScratch(t, p)
		if err := p.Remove("new:1"); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		requireFromScratch(t, p)
	})
}

// Real goroutines, under -race: keyed picks never reach an endpoint whose
// Remove returned before they began, while changes follow one another
// faster than builds. The table ends as the from-scratch one.
func TestConsistentHashPicksDuringRebuilds(t *testing.T) {
	const n, rounds, pickers = 1000, 40, 2
	as := addrs(n)
	p := mustNew(t, Config{Policy: ConsistentHash}, as...)
	var gone sync.Map // address -> its Remove returned
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, pickers)
	deadline := time.Now().Add(10 * time.Second)
	for g := range pickers {
		wg.Go(func() {
			for k := uint64(g); !stop.Load() && time.Now().Before(deadline); k += pickers {
				var removed []string
				gone.Range(func(a, _ any) bool { removed = append(removed, a.(string)); return true })
				l, err := p.PickKeyUint64(k)
				if err != nil {
					errs <- err
					return
				}
				if slices.Contains(removed, l.Endpoint()) {
					errs <- fmt.Errorf("key %d leased %s after its Remove returned", k, l.Endpoint())
					l.Done(nil)
					return
				}
				l.Done(nil)
			}
		})
	}
	for i := range rounds {
		if err := p.Remove(as[i]); err != nil {
			t.Fatal(err)
		}
		gone.Store(as[i], true)
		if err := p.Add(fmt.Sprintf("new-%d:1", i)); err != nil {
			t.Fatal(err)
		}
		if i%8 == 0 {
			settleHash(p) // some builds finish between changes, some not
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	settleHash(p)
	requireFromScratch(t, p)
	if total := p.counts.total.Load(); total != 0 {
		t.Errorf("total in flight %d after every Done", total)
	}
}

// BenchmarkConsistentHashChange is BenchmarkMembership's Add of one
// endpoint with the background build waited for outside the timed region,
// beside P2C's Add in the same run: the membership path's own cost, without
// the build's share of the CPU (which BenchmarkMembership counts when
// GOMAXPROCS is 1 and changes follow each other faster than builds).
func BenchmarkConsistentHashChange(b *testing.B) {
	for _, n := range membershipSizes {
		for _, pol := range []Policy{P2C, ConsistentHash} {
			b.Run(fmt.Sprintf("op=add/policy=%s/n=%d", pol, n), func(b *testing.B) {
				p := mustNewWeighted(b, Config{Policy: pol}, endpointsOf(addrs(n))...)
				b.ReportAllocs()
				for b.Loop() {
					if err := p.Add("new:1"); err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if pol == ConsistentHash {
						settleHash(p)
					}
					_ = p.Remove("new:1")
					if pol == ConsistentHash {
						settleHash(p)
					}
					b.StartTimer()
				}
			})
		}
	}
}
