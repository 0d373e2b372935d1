// Package fastrand draws the random numbers lb's pick path needs from the
// runtime's per-thread generator: no lock, no shared write, and calls the
// compiler inlines. The numbers are not cryptographic and not
// reproducible (there is no seed to set).
package fastrand

import _ "unsafe" // for go:linkname

// cheaprand64 is the runtime's per-M wyrand generator, the cheapest it
// has: a few arithmetic instructions on the thread's own state. The
// runtime keeps this symbol linkable on purpose (go.dev/issue/67401).
//
//go:linkname cheaprand64 runtime.cheaprand64
func cheaprand64() int64

// Uint63 returns 63 random bits; the top bit is zero.
func Uint63() uint64 { return uint64(cheaprand64()) }

// N returns a uniform integer in [0, n) for 0 < n < 2^32, by
// multiply-shift of 32 random bits (its bias, below n/2^32, is
// negligible at the pool sizes lb allows).
func N(n int) int {
	return int((uint64(uint32(Uint63())) * uint64(n)) >> 32)
}
