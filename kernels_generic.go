package nanolb

import "math/bits"

// The reference implementations. They are always compiled: they are the
// fallback on every architecture (and below each assembly kernel's length
// threshold), and the tests hold every assembly kernel to them.

const (
	ones8 = 0x0101010101010101 // 1 in every byte
	high8 = 0x8080808080808080 // the top bit of every byte
)

// selectGeneric is the reference implementation of Select for k >= 0.
func selectGeneric(words []uint64, k int) int {
	for i, w := range words {
		c := bits.OnesCount64(w)
		if k < c {
			return 64*i + selectInWord(w, uint64(k))
		}
		k -= c
	}
	return -1
}

// selectInWord returns the position of the r-th set bit (from 0) of w; r
// must be below bits.OnesCount64(w). It is the broadword select that
// lb_arm64.s also uses: byte-wise popcounts turned into prefix sums by one
// multiplication, a SWAR compare that counts the bytes whose prefix sum is
// at most r (that count is the byte holding the answer), then the same
// trick once more on that byte's eight bits spread over eight bytes.
func selectInWord(w, r uint64) int {
	s := w - (w>>1)&0x5555555555555555
	s = s&0x3333333333333333 + (s>>2)&0x3333333333333333
	s = (s + s>>4) & 0x0f0f0f0f0f0f0f0f
	p := s * ones8 // byte i: set bits in bytes 0..i
	le := ((r*ones8 | high8) - p) & high8
	shift := ((le >> 7) * ones8 >> 56) * 8 // 8 * (bytes with prefix <= r)
	r -= (p << 8 >> shift) & 0xff          // rank inside the byte
	x := (w >> shift) & 0xff
	spread := ((x * ones8 & 0x8040201008040201) + 0x7f7f7f7f7f7f7f7f) & high8 >> 7 // byte j: bit j of x
	q := spread * ones8                                                            // byte j: set bits of x in 0..j
	le = ((r*ones8 | high8) - q) & high8
	return int(shift + (le>>7)*ones8>>56)
}

// popCountGeneric is the reference implementation of PopCount.
func popCountGeneric(words []uint64) int {
	n := 0
	for _, w := range words {
		n += bits.OnesCount64(w)
	}
	return n
}

// minIndexGeneric is the reference implementation of MinIndex.
func minIndexGeneric(v []int64) int {
	if len(v) == 0 {
		return -1
	}
	best, m := 0, v[0]
	for i, x := range v[1:] {
		if x < m {
			best, m = i+1, x
		}
	}
	return best
}

// firstDueGeneric is the reference implementation of FirstDue.
func firstDueGeneric(deadlines []int64, now int64) int {
	for i, d := range deadlines {
		if d <= now {
			return i
		}
	}
	return -1
}
