package lb

import (
	"fmt"
	"math"
	"reflect"
	"testing"
	"unsafe"
)

// Tables share their view's endpoint array (slotsOf), which reads each
// *core as a pointer to the policy's slot: that holds only if every slot
// newMembers allocates starts with its core.
func TestEverySlotStartsWithItsCore(t *testing.T) {
	endpoints := make([]Endpoint, 100) // more than one chunk of slots
	for i := range endpoints {
		endpoints[i] = Endpoint{Addr: fmt.Sprintf("10.0.0.%d:80", i), Weight: i % 3}
	}
	for _, policy := range Policies() {
		t.Run(policy.String(), func(t *testing.T) {
			for i, m := range newMembers(policy, endpoints) {
				if s := reflect.ValueOf(m.slot).UnsafePointer(); s != unsafe.Pointer(m.c) {
					t.Fatalf("member %d: slot %T at %p, its core at %p", i, m.slot, s, m.c)
				}
				if *m.c.addr != endpoints[i].Addr {
					t.Fatalf("member %d has address %q, want %q", i, *m.c.addr, endpoints[i].Addr)
				}
			}
		})
	}
}

// The lease word: a Pick counts one in flight, its Done takes it off and
// counts one ended in the same add; a misused second Done (a copied lease)
// is undone whole, so neither count moves.
func TestTheLeaseWordCountsInFlightAndEnded(t *testing.T) {
	p := mustNew(t, Config{}, "a:1")
	c := p.view.Load().cores[0]
	var held []Lease
	for range 3 {
		l, err := p.Pick()
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
	}
	if c.inFlight() != 3 || c.ended() != 0 {
		t.Fatalf("after 3 Picks: in flight %d, ended %d", c.inFlight(), c.ended())
	}
	copied := held[0]
	for _, l := range held {
		l.Done(nil)
	}
	if c.inFlight() != 0 || c.ended() != 3 {
		t.Fatalf("after 3 Dones: in flight %d, ended %d", c.inFlight(), c.ended())
	}
	copied.Done(nil) // a misuse: the count would go below zero
	if c.inFlight() != 0 || c.ended() != 3 {
		t.Fatalf("after a copy's second Done: in flight %d, ended %d; want 0, 3", c.inFlight(), c.ended())
	}
	wrap := uint64(math.MaxUint32)<<32 | 1
	c.leases.Store(int64(wrap)) // ended wraps
	c.release()
	if c.inFlight() != 0 || c.ended() != 0 {
		t.Fatalf("ended at 2^32−1 then one more: in flight %d, ended %d; want 0, 0", c.inFlight(), c.ended())
	}
}
