package lb

import (
	"context"
	"fmt"
	"testing"

	"github.com/nanolb/nanolb/internal/keyhash"
	"github.com/nanolb/nanolb/internal/maglev"
)

// Each pool's lease mode is chosen from its policy and limit: a bare
// lease for policies that keep nothing per lease and have no limit, the
// limit alone, the pool's total alone (ConsistentHash without a limit),
// and begin and end for everything else.
func TestLeaseModesFollowThePolicyAndTheLimit(t *testing.T) {
	if !totalPolicies[ConsistentHash] || leasedPolicies[ConsistentHash] {
		t.Fatalf("ConsistentHash: counts the total %v, per-lease state %v; PickKey's fast path assumes true, false",
			totalPolicies[ConsistentHash], leasedPolicies[ConsistentHash])
	}
	for _, pol := range Policies() {
		for _, limit := range []int{0, 4} {
			p := mustNew(t, Config{Policy: pol, MaxConcurrency: limit}, "a:1", "b:1")
			want := leaseBare
			switch {
			case pol == PeakEWMA || pol == ConsistentHash && limit != 0:
				want = leaseTracked
			case pol == ConsistentHash:
				want = leaseTotal
			case limit != 0:
				want = leaseLimit
			}
			if p.mode != want {
				t.Errorf("%v with MaxConcurrency %d: lease mode %d, want %d", pol, limit, p.mode, want)
			}
		}
	}
}

// Whichever path a ConsistentHash lease takes (the fast one, or lease and
// end under a concurrency limit), it routes the key to the table's choice,
// counts once in its endpoint's in-flight count and once in the pool's
// total while held, and Done takes both back and reports its outcome.
func TestConsistentHashLeasesCountAlikeOnEveryPath(t *testing.T) {
	const n, held = 16, 40
	for _, limit := range []int{0, 1000} {
		for name, pick := range map[string]func(p *Pool, i int) (Lease, error){
			"PickKey":       func(p *Pool, i int) (Lease, error) { return p.PickKey(fmt.Sprint("user-", i)) },
			"PickKeyUint64": func(p *Pool, i int) (Lease, error) { return p.PickKeyUint64(uint64(i)) },
		} {
			t.Run(fmt.Sprintf("%s with MaxConcurrency %d", name, limit), func(t *testing.T) {
				p := mustNew(t, Config{Policy: ConsistentHash, MaxConcurrency: limit, EjectAfter: 255, HashLoadFactor: 100}, addrs(n)...)
				tbl := p.tables.consistentHash.Load()
				leases := make([]Lease, held)
				for i := range leases {
					l, err := pick(p, i)
					if err != nil {
						t.Fatal(err)
					}
					h := keyhash.Mix64(uint64(i))
					if name == "PickKey" {
						h = keyhash.Mix64(keyhash.String(fmt.Sprint("user-", i)))
					}
					// The load factor keeps every owner under the bound: the
					// key's owner is the table's entry for it.
					if want := tbl.lookup.owners[tbl.lookup.at(maglev.Entry(h, tbl.lookup.size))]; l.c != &want.core {
						t.Fatalf("key %d leased %s, its owner is %s", i, l.Endpoint(), *want.addr)
					}
					leases[i] = l
				}
				if got := p.counts.total.Load(); got != held {
					t.Fatalf("total in flight %d with %d leases held", got, held)
				}
				if got := sumInFlight(p); got != held {
					t.Fatalf("endpoints' in-flight counts sum to %d with %d leases held", got, held)
				}
				outcomes := []error{nil, errBackend, context.Canceled}
				for i := range leases {
					leases[i].Done(outcomes[i%len(outcomes)])
					leases[i].Done(nil) // a second Done is a no-op
				}
				if got := p.counts.total.Load(); got != 0 {
					t.Fatalf("total in flight %d after every Done", got)
				}
				if got := sumInFlight(p); got != 0 {
					t.Fatalf("endpoints' in-flight counts sum to %d after every Done", got)
				}
				var streaks int
				for _, e := range p.Endpoints() {
					streaks += e.Streak
				}
				if streaks == 0 {
					t.Fatal("no failure was reported: Done lost its outcomes")
				}
			})
		}
	}
}

func sumInFlight(p *Pool) int64 {
	var sum int64
	for _, e := range p.Endpoints() {
		sum += e.InFlight
	}
	return sum
}
