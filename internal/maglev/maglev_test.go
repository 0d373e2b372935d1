package maglev

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// endpoints returns n endpoints "backend-i:8080" with weight(i).
func endpoints(n int, weight func(i int) uint32) []Endpoint {
	eps := make([]Endpoint, n)
	for i := range eps {
		eps[i] = Endpoint{Addr: fmt.Sprintf("backend-%d:8080", i), Weight: weight(i)}
	}
	return eps
}

func one(int) uint32 { return 1 }

// fingerprint is 64-bit FNV-1a over a table's entries, each as 4
// little-endian bytes.
func fingerprint[T Index](table []T) uint64 {
	h := uint64(14695981039346656037)
	for _, e := range table {
		for i := range 4 {
			h ^= uint64(byte(uint32(e) >> (8 * i)))
			h *= 1099511628211
		}
	}
	return h
}

func TestSizesArePrimesThatDouble(t *testing.T) {
	for i, size := range sizes {
		for d := uint32(2); d*d <= size; d++ {
			if size%d == 0 {
				t.Fatalf("table size %d is divisible by %d", size, d)
			}
		}
		if prev := 2 * int64(sizes[max(i-1, 0)]); i > 0 && (int64(size) < prev-1000 || int64(size) > prev+1000) {
			t.Errorf("table size %d after %d: not about double", size, sizes[i-1])
		}
	}
	for _, c := range []struct {
		want uint64
		size int
	}{{0, 65537}, {1, 65537}, {65537, 65537}, {65538, 131101}, {4194319, 4194319}, {1 << 40, 4194319}} {
		if got := Size(c.want); got != c.size {
			t.Errorf("Size(%d) = %d, want %d", c.want, got, c.size)
		}
	}
}

// Tables are pinned: every process that builds a table for the same
// endpoints must build the same one, so a change to any of these values
// moves ConsistentHash's keys.
func TestTablesArePinned(t *testing.T) {
	three := []Endpoint{{"10.0.0.1:80", 1}, {"10.0.0.2:80", 1}, {"10.0.0.3:80", 1}}
	for _, c := range []struct {
		name        string
		eps         []Endpoint
		size        int
		first       []uint16
		fingerprint uint64
	}{
		{"three endpoints", three, 65537, []uint16{2, 0, 0, 1, 1, 2, 0, 0}, 0x71974d7745060ad7},
		{"a hundred weighted 1 to 5", endpoints(100, func(i int) uint32 { return uint32(i%5 + 1) }), 131101,
			[]uint16{24, 78, 53, 49, 12, 8, 19, 24}, 0xc54c2eb5c9966c16},
		{"one endpoint", []Endpoint{{"solo:1", 1}}, 65537, make([]uint16, 8), 0x4ebe9b86711e13f5},
	} {
		t.Run(c.name, func(t *testing.T) {
			table := Build[uint16](c.eps, c.size)
			if len(table) != c.size || !slices.Equal(table[:8], c.first) {
				t.Errorf("%d entries starting %v, pinned %d starting %v", len(table), table[:8], c.size, c.first)
			}
			if got := fingerprint(table); got != c.fingerprint {
				t.Errorf("fingerprint %#x, pinned %#x", got, c.fingerprint)
			}
			if got := fingerprint(Build[int32](c.eps, c.size)); got != c.fingerprint {
				t.Errorf("32-bit entries: fingerprint %#x, pinned %#x", got, c.fingerprint)
			}
		})
	}
}

// Every endpoint holds its weight's share of the entries, rounded down or
// up, and the shares fill the table.
func TestEveryEndpointHoldsItsShare(t *testing.T) {
	for _, c := range []struct {
		name string
		eps  []Endpoint
		size int
	}{
		{"100 equal", endpoints(100, one), 65537},
		{"4 weighted 1 to 4", endpoints(4, func(i int) uint32 { return uint32(i + 1) }), 65537},
		{"1,000 weighted 1 to 7", endpoints(1000, func(i int) uint32 { return uint32(i%7 + 1) }), 131101},
		{"as many endpoints as entries", endpoints(65537, one), 65537},
	} {
		t.Run(c.name, func(t *testing.T) {
			var weights uint64
			for _, e := range c.eps {
				weights += uint64(e.Weight)
			}
			held := make([]int, len(c.eps))
			for _, i := range Build[int32](c.eps, c.size) {
				held[i]++
			}
			for i, e := range c.eps {
				share := uint64(c.size) * uint64(e.Weight) / weights
				if k := uint64(held[i]); k != share && k != share+1 {
					t.Fatalf("%s (weight %d) holds %d of %d entries, want %d or %d", e.Addr, e.Weight, k, c.size, share, share+1)
				}
			}
		})
	}
}

// The table depends on the set of endpoints only: shuffled, the same
// endpoints hold the same entries.
func TestTableIgnoresOrder(t *testing.T) {
	eps := endpoints(50, func(i int) uint32 { return uint32(i%3 + 1) })
	want := Build[uint16](eps, 65537)
	r := rand.New(rand.NewPCG(1, 2))
	for range 3 {
		shuffled := slices.Clone(eps)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got := Build[uint16](shuffled, 65537)
		for e := range want {
			if eps[want[e]] != shuffled[got[e]] {
				t.Fatalf("entry %d: %s in one order, %s in another", e, eps[want[e]].Addr, shuffled[got[e]].Addr)
			}
		}
	}
}

// Adding one endpoint to n gives it about its share, 1/(n+1) of the
// entries, and moves fewer than as many again between the others.
func TestAddingAnEndpointMovesAFewEntries(t *testing.T) {
	for _, n := range []int{10, 100} {
		eps := endpoints(n+1, one)
		before, after := Build[uint16](eps[:n], 65537), Build[uint16](eps, 65537)
		toNew, between := 0, 0
		for e := range before {
			switch {
			case int(after[e]) == n:
				toNew++
			case after[e] != before[e]:
				between++
			}
		}
		ideal := 65537 / float64(n+1)
		if f := float64(toNew); f < ideal-1 || f > ideal+1 {
			t.Errorf("n=%d: %d entries went to the new endpoint, ideal %.0f", n, toNew, ideal)
		}
		if float64(between) > ideal {
			t.Errorf("n=%d: %d entries moved between the others, more than the new one's %.0f", n, between, ideal)
		}
	}
}

// Entry maps hashes onto the whole table, in order: 0 to the first entry,
// the largest hash to the last.
func TestEntryCoversTheTable(t *testing.T) {
	for _, size := range []int{1, 7, 65537} {
		if got := Entry(0, size); got != 0 {
			t.Errorf("Entry(0, %d) = %d", size, got)
		}
		if got := Entry(^uint64(0), size); got != size-1 {
			t.Errorf("Entry(max, %d) = %d, want %d", size, got, size-1)
		}
		if got := Entry(1<<63, size); got != size/2 {
			t.Errorf("Entry(2^63, %d) = %d, want %d", size, got, size/2)
		}
	}
}

func TestBuildOfNoEndpointsIsNil(t *testing.T) {
	if table := Build[uint16](nil, 65537); table != nil {
		t.Fatalf("%d entries for no endpoints", len(table))
	}
}

// BenchmarkBuild measures building a table from scratch at the sizes lb's
// default HashReplicas gives n endpoints.
func BenchmarkBuild(b *testing.B) {
	for _, n := range []int{8, 655, 1000, 10000, 100000} {
		eps := endpoints(n, one)
		size := Size(min(uint64(n)*100, max(131101, uint64(n))))
		b.Run(fmt.Sprintf("n=%d/size=%d", n, size), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if n < 1<<16 {
					Build[uint16](eps, size)
				} else {
					Build[int32](eps, size)
				}
			}
		})
	}
}
