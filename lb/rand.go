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
