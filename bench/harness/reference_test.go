package harness

import (
	"testing"
	"unsafe"
)

func TestPaddedCounterOwnsTwoWholeCacheLines(t *testing.T) {
	var c paddedCounter
	if got := unsafe.Sizeof(c); got != 2*cacheLine {
		t.Errorf("sizeof(paddedCounter) = %d, want %d", got, 2*cacheLine)
	}
	if got := unsafe.Offsetof(c.n); got != cacheLine {
		t.Errorf("offset of the counter = %d, want %d", got, cacheLine)
	}
}

func TestAtomicPairLeavesItsCounterAtZero(t *testing.T) {
	c, _ := NewAtomicPair(Addrs(1))
	for range 100 {
		c.Cycle()
	}
	if got := c.(*AtomicPair).c.n.Load(); got != 0 {
		t.Fatalf("counter = %d after balanced cycles, want 0", got)
	}
}

func TestP2CPrefersTheLessLoadedOfTwoEndpoints(t *testing.T) {
	c, err := NewP2C(Addrs(2))
	if err != nil {
		t.Fatal(err)
	}
	p := c.(*P2C)
	busy := p.Pick() // held: that endpoint now has one request in flight
	for range 100 {
		i := p.Pick()
		if i == busy {
			t.Fatalf("picked the busy endpoint %d while the other was idle", i)
		}
		p.Done(i)
	}
	p.Done(busy)
	for i := range p.inflight {
		if got := p.inflight[i].n.Load(); got != 0 {
			t.Errorf("endpoint %d has %d in flight after all leases were done", i, got)
		}
	}
}

// nanolb's own allocation check is cmd/benchgate's, which CI runs.
func TestReferencesDoNotAllocate(t *testing.T) {
	for _, impl := range References() {
		c, err := impl.Build(Addrs(8))
		if err != nil {
			t.Fatalf("%s: %v", impl.Name, err)
		}
		if allocs := testing.AllocsPerRun(1000, func() { c.Cycle() }); allocs != 0 {
			t.Errorf("%s: %v allocs per cycle, want 0", impl.Name, allocs)
		}
	}
}

func TestBuildersRejectAnEmptyEndpointList(t *testing.T) {
	if _, err := NewP2C(nil); err == nil {
		t.Error("NewP2C(nil) succeeded")
	}
}
