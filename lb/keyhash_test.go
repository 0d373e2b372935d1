package lb

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// PickKey routes a key as PickKeyUint64 routes its keyhash.String, on
// every keyed policy, so a client computing the documented hash routes
// alike. FNV-1a routes about 15 keys in 16 elsewhere, so each check tells
// the two apart (and both policies' keys moved once from it).
func TestPickKeyRoutesAsPickKeyUint64OfTheKeysHash(t *testing.T) {
	for _, policy := range []Policy{ConsistentHash, Shard} {
		p := mustNew(t, Config{Policy: policy}, addrs(16)...)
		route := func(pick func() (Lease, error)) string { // one lease at a time: no load bound in the way
			l, err := pick()
			if err != nil {
				t.Fatal(err)
			}
			defer l.Done(nil)
			return l.Endpoint()
		}
		moved := 0
		for k := range 2000 {
			key := fmt.Sprint("user-", k)
			byKey := route(func() (Lease, error) { return p.PickKey(key) })
			byHash := route(func() (Lease, error) { return p.PickKeyUint64(keyhash.String(key)) })
			if byKey != byHash {
				t.Fatalf("%v: PickKey(%q) went to %s, PickKeyUint64 of its hash to %s", policy, key, byKey, byHash)
			}
			if route(func() (Lease, error) { return p.PickKeyUint64(keyhash.FNV1a(key)) }) != byKey {
				moved++
			}
		}
		if moved < 1700 {
			t.Errorf("%v: only %d of 2000 keys route elsewhere by FNV-1a", policy, moved)
		}
	}
}

// PickKey on ConsistentHash does not allocate, whatever the key's length.
func TestPickKeyDoesNotAllocate(t *testing.T) {
	p := mustNew(t, Config{Policy: ConsistentHash}, addrs(8)...)
	for _, key := range []string{"", "abc", "user-1", "user-12345", strings.Repeat("k", 100)} {
		if allocs := pickDoneAllocs(100, func() (Lease, error) { return p.PickKey(key) }, nil); allocs != 0 {
			t.Errorf("PickKey(%q): %.1f allocations", key, allocs)
		}
	}
}
