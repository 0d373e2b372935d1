package lb

import _ "unsafe" // for go:linkname

// cheaprand64 is the runtime's per-M wyrand generator: no lock, no shared
// write, about a third of the cost of math/rand/v2's ChaCha8 on the pick
// path. The runtime keeps this symbol linkable on purpose (go.dev/issue/67401).
//
//go:linkname cheaprand64 runtime.cheaprand64
func cheaprand64() int64

// rand63 returns 63 random bits.
func rand63() uint64 { return uint64(cheaprand64()) }

// randn returns a uniform integer in [0, n) for 0 < n < 2^32.
func randn(n int) int {
	return int((uint64(uint32(rand63())) * uint64(n)) >> 32)
}

// pair maps one random word to two distinct indexes in [0, n), n >= 2, each
// pair equally likely (up to the n/2^31 bias of multiply-shift reduction).
// The first index takes bits 0..31, the second bits 32..62.
func pair(r uint64, n uint32) (i, j uint32) {
	i = uint32((uint64(uint32(r)) * uint64(n)) >> 32)
	j = uint32(((r >> 32) * uint64(n-1)) >> 31)
	// j++ when j >= i, without a branch: the draw is random, so a branch
	// would mispredict half the time. i-j-1 is negative exactly then.
	j += uint32((uint64(i) - uint64(j) - 1) >> 63)
	return i, j
}
