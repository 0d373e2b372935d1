package subset

import (
	"math/bits"
	"slices"

	"github.com/nanolb/nanolb/internal/keyhash"
)

// Deterministic returns client's subset of size backends by the SRE book's
// deterministic subsetting. With the backends sorted (byte-wise) and
// deduplicated, n of them, and per = floor(n/size) clients a round:
//
//  1. round = client / per; slot = client mod per.
//  2. Shuffle the sorted backends with the generator seeded by round (see
//     below): for i from n-1 down to 1, j = high 64 bits of the 128-bit
//     product next() × (i+1), then swap the backends at i and j
//     (Fisher–Yates, with Lemire's multiply for the index).
//  3. The subset is the shuffled backends at [slot·size, slot·size+size),
//     sorted.
//
// The generator is a Weyl sequence finalized by keyhash.Mix64: state s
// starts at round; next() adds 0x9e3779b97f4a7c15 to s (mod 2^64) and
// returns Mix64(s).
//
// Clients of one round use disjoint slices of one shuffle, so clients
// 0..per·r-1 load every backend exactly r times when size divides n. Any
// change of n or of the backends reshuffles every round.
func Deterministic(client uint64, backends []string, size int) []string {
	b := sortedSet(backends)
	if size <= 0 {
		return nil
	}
	n := len(b)
	if size >= n {
		return b
	}
	per := uint64(n / size)
	round, slot := client/per, client%per
	shuffle(b, round)
	out := slices.Clone(b[slot*uint64(size) : (slot+1)*uint64(size)])
	slices.Sort(out)
	return out
}

// shuffle permutes b by Deterministic's step 2 seeded by seed.
func shuffle(b []string, seed uint64) {
	s := seed
	for i := len(b) - 1; i > 0; i-- {
		s += 0x9e3779b97f4a7c15
		j, _ := bits.Mul64(keyhash.Mix64(s), uint64(i+1))
		b[i], b[j] = b[j], b[i]
	}
}

// sortedSet returns a sorted copy of backends without duplicates.
func sortedSet(backends []string) []string {
	b := slices.Clone(backends)
	slices.Sort(b)
	return slices.Compact(b)
}
