package lb

import (
	"sync"
	"sync/atomic"

	"github.com/nanolb/nanolb/internal/maglev"
)

// Rebuilding ConsistentHash's lookup table off the membership path.
//
// A table past maxSyncMaglev entries takes far longer to build than the
// rest of a membership change. So a change publishes at once a table that
// keeps the previous lookup table, whose entries name the previous
// membership's slots, and asks the pool's maglevBuilds for a new one.
// Until it arrives, a key whose owner was removed finds it retired (not
// up) and goes to the fallback like the key of an ejected owner, and a new
// endpoint takes keys only as the fallback's last resort. One goroutine per
// pool builds, and only while there is work: changes that arrive during a
// build are coalesced into one more build from the newest membership. A
// built table is published, under the membership lock, only if the table
// it was built for is still the pool's current one; otherwise a newer
// change has asked for another build or built its own.

// maxSyncMaglev is the largest lookup table built within the membership
// change, so that small pools (up to 655 endpoints at the default
// HashReplicas) route by their new table as soon as Add, Remove or Set
// returns, and their tests stay deterministic; the next size costs several
// times what a whole change may (docs/design-hashing.md). A pool's first
// table, built by New, is built there too, whatever its size: there is no
// table to route with meanwhile.
const maxSyncMaglev = 65537

// maglevLookup is a Maglev lookup table and the slots its entries name.
type maglevLookup struct {
	size   int      // entries; 0 for an empty membership
	small  []uint16 // entry -> index in owners, below 65,536 owners
	large  []int32  // the same from 65,536 owners on
	owners []*slot  // the membership the table was built for, in its order
}

// newMaglevLookup builds the lookup table of owners, whose cores are cores.
func newMaglevLookup(owners []*slot, cores []*core, replicas int) maglevLookup {
	l := maglevLookup{owners: owners}
	if len(owners) <= 1<<16 {
		l.small = buildMaglev[uint16](cores, replicas)
		l.size = len(l.small)
	} else {
		l.large = buildMaglev[int32](cores, replicas)
		l.size = len(l.large)
	}
	return l
}

// buildMaglev returns the Maglev table of cores (entry -> index in cores,
// which T must hold) at maglevSize's size for replicas.
func buildMaglev[T maglev.Index](cores []*core, replicas int) []T {
	if len(cores) == 0 {
		return nil
	}
	eps := make([]maglev.Endpoint, len(cores))
	for i, c := range cores {
		eps[i] = maglev.Endpoint{Addr: *c.addr, Weight: c.weight.Load()}
	}
	return maglev.Build[T](eps, maglevSize(len(cores), replicas))
}

// at returns the index in owners of entry e. The table holds 16-bit
// indexes while they fit, halving the memory a lookup may miss in.
func (l *maglevLookup) at(e int) int {
	if l.small != nil {
		return int(l.small[e])
	}
	return int(l.large[e])
}

// maglevBuilds is a pool's background rebuilding of its lookup table.
type maglevBuilds struct {
	mu      sync.Mutex
	want    *consistentHashTable // the newest table waiting for its lookup; nil if none
	running chan struct{}        // closed when the build goroutine ends; nil while none runs

	members  *sync.Mutex                          // the pool's membership lock
	table    *atomic.Pointer[consistentHashTable] // the pool's current table
	replicas int                                  // Config.HashReplicas

	builds atomic.Int64 // tables built in the background, for tests
	// testHookBuild, when set by a test, runs in the build goroutine before
	// each build.
	testHookBuild func()
}

// request asks for t's lookup table, replacing any older table still
// waiting, and starts the build goroutine if none runs. The caller holds
// the membership lock and publishes t after setup returns; the goroutine
// takes that lock before it publishes, so it never looks for t too early.
func (b *maglevBuilds) request(t *consistentHashTable) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.want = t
	if b.running == nil {
		b.running = make(chan struct{})
		go b.run(b.running)
	}
}

// run builds the waiting table's lookup until none waits, then ends.
func (b *maglevBuilds) run(done chan struct{}) {
	for {
		b.mu.Lock()
		t := b.want
		b.want = nil
		if t == nil {
			b.running = nil
			b.mu.Unlock()
			close(done)
			return
		}
		b.mu.Unlock()
		if b.testHookBuild != nil {
			b.testHookBuild()
		}
		l := newMaglevLookup(t.slots, t.view.cores, b.replicas)
		b.builds.Add(1)
		b.publish(t, l)
	}
}

// publish installs a copy of t with lookup l if t is still the pool's
// current table. Under the membership lock no change is half done: the
// current table is the newest membership's.
func (b *maglevBuilds) publish(t *consistentHashTable, l maglevLookup) {
	b.members.Lock()
	defer b.members.Unlock()
	if b.table.Load() != t {
		return
	}
	fresh := *t
	fresh.lookup = l
	b.table.Store(&fresh)
}

// settle waits until no build runs, for tests: then the pool's table was
// built for its current membership.
func (b *maglevBuilds) settle() {
	for {
		b.mu.Lock()
		done := b.running
		b.mu.Unlock()
		if done == nil {
			return
		}
		<-done
	}
}
