// Package maglev builds the lookup tables of Maglev hashing (Eisenbud et
// al., NSDI 2016), weighted as Envoy's weighted Maglev is: lb's
// ConsistentHash routes a key to the endpoint its table entry names.
//
// A table is a function of its endpoints' addresses and weights alone, not
// of their order, so every process with the same endpoints builds the same
// one. Each endpoint has a permutation of the entries from two fixed
// hashes of its address (an offset and a step; the table size is prime, so
// every step visits every entry). Endpoints take turns, in the order of
// their address hashes, and each turn claims the next entry of the taker's
// permutation that nobody holds, until the table is full. Turns are dealt
// in proportion to weight: each endpoint has a quota of entries, its
// weight's share of the table, and each round deals it quota/rounds turns
// (Bresenham), so heavy endpoints claim several entries a round and light
// ones skip rounds; with equal weights it is plain Maglev. Quotas make the
// balance exact: an endpoint holds its weight's share of the entries,
// rounded. A build costs about size·ln(size) probes of a bitmap of the
// entries held, the last free entries being the costly ones to find.
//
// Maglev is not strictly monotone: adding one endpoint gives it close to
// its share, but also moves keys between the others, more so as the pool
// grows.
package maglev

import (
	"math/bits"
	"slices"
	"strings"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// sizes are the table sizes Size chooses from: primes, each about double
// the one before, so a table's size changes (and every key moves) only when
// the wanted size crosses a step. The last caps a table at 4,194,319
// entries.
var sizes = [...]uint32{
	65537, 131101, 262147, 524309, 1048583, 2097169, 4194319,
}

// Size returns the table size for want entries: the first size at least
// want, or the largest, 4,194,319. Every size it returns is a prime, as
// Build requires.
func Size(want uint64) int {
	for _, size := range sizes {
		if uint64(size) >= want {
			return int(size)
		}
	}
	return int(sizes[len(sizes)-1])
}

// Entry returns the entry that hash h looks up in a table of size entries:
// a multiply-shift, no division, so h's top bits choose.
func Entry(h uint64, size int) int {
	hi, _ := bits.Mul64(h, uint64(size))
	return int(hi)
}

// Endpoint is one member of a table: a unique address and a weight of at
// least 1.
type Endpoint struct {
	Addr   string
	Weight uint32
}

// Index is the type of a table's entries: uint16 below 65,536 endpoints,
// which halves the memory a lookup may miss in, int32 from there.
type Index interface{ uint16 | int32 }

// taker is one endpoint's state while the table is built.
type taker struct {
	hash  uint64 // of the address: the turn order
	index uint32 // in Build's endpoints
	next  uint32 // the next entry of its permutation
	step  uint32 // 1..size-1
	quota uint32 // entries still to claim
	share uint64 // its weight, then its whole quota: turns per round, in 1/rounds
	acc   uint64 // turns owed, in 1/rounds (Bresenham)
}

// Build returns the lookup table of size entries for endpoints, each entry
// an index in endpoints, or nil for no endpoints. size must be one of
// Size's primes, at least len(endpoints), and T must hold every index.
// Every endpoint holds its weight's share of the entries, rounded.
func Build[T Index](endpoints []Endpoint, size int) []T {
	if len(endpoints) == 0 {
		return nil
	}
	takers := make([]taker, len(endpoints))
	var weights uint64
	for i, e := range endpoints {
		weights += uint64(e.Weight)
		base := keyhash.FNV1a(e.Addr) // the address draws its permutation and place in the turns
		takers[i] = taker{
			share: uint64(e.Weight),
			hash:  keyhash.Mix64(base),
			index: uint32(i),
			next:  uint32(Entry(keyhash.Mix64(base^0xc2b2ae3d27d4eb4f), size)),
			step:  uint32(Entry(keyhash.Mix64(base^0x165667b19e3779f9), size-1)) + 1,
		}
	}
	// Turn order by address hash, then address: addresses are unique, so the
	// order, and the table, do not depend on the order of endpoints.
	slices.SortFunc(takers, func(a, b taker) int {
		if a.hash != b.hash {
			if a.hash < b.hash {
				return -1
			}
			return 1
		}
		return strings.Compare(endpoints[a.index].Addr, endpoints[b.index].Addr)
	})
	// Quotas: each weight's share of the table, rounded down; what rounding left
	// goes one entry each to the first takers in turn order.
	var dealt uint64
	for i := range takers {
		hi, lo := bits.Mul64(uint64(size), takers[i].share)
		q, _ := bits.Div64(hi, lo, weights)
		takers[i].quota = uint32(q)
		dealt += q
	}
	for i := range takers {
		if uint64(i) < uint64(size)-dealt {
			takers[i].quota++
		}
		takers[i].share = uint64(takers[i].quota)
	}
	rounds := max((uint64(size)+uint64(len(takers))-1)/uint64(len(takers)), 1)

	table := make([]T, size)
	fill(table, takers, rounds)
	return table
}

// fill deals turns to takers until table is full; see the package doc. It
// touches only its arguments, which no other goroutine can see yet, so the
// race detector is told to skip its millions of accesses.
//
//go:norace
func fill[T Index](table []T, takers []taker, rounds uint64) {
	size := uint32(len(table))
	taken := make([]uint64, (size+63)/64)
	for claimed := uint32(0); claimed < size; {
		for i := range takers {
			k := &takers[i]
			if k.quota == 0 {
				continue
			}
			k.acc += k.share
			for k.acc >= rounds && k.quota > 0 {
				k.acc -= rounds
				e := k.next
				for taken[e/64]&(1<<(e%64)) != 0 {
					if e += k.step; e >= size {
						e -= size
					}
				}
				taken[e/64] |= 1 << (e % 64)
				table[e] = T(k.index)
				if e += k.step; e >= size {
					e -= size
				}
				k.next = e
				k.quota--
				claimed++
			}
		}
	}
}
