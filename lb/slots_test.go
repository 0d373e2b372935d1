package lb

import (
	"fmt"
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
