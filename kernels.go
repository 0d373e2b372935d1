package nanolb

// This file holds the exported kernels. Each one checks the arguments that
// are the same on every architecture and hands over to the per-architecture
// dispatcher (selectKernel, popCountKernel, minIndexKernel, firstDueKernel),
// which lives in kernels_amd64.go, kernels_arm64.go or kernels_noasm.go and
// picks an assembly kernel or the reference Go code from kernels_generic.go.

// Select returns the index of the k-th set bit (k counts from 0) across
// words, bit i of words[w] being index 64*w+i, or -1 if k < 0 or fewer than
// k+1 bits are set.
//
// Select does not allocate and is safe for concurrent use.
func Select(words []uint64, k int) int {
	if k < 0 {
		return -1
	}
	return selectKernel(words, k)
}

// PopCount returns the number of set bits in words.
//
// PopCount does not allocate and is safe for concurrent use.
func PopCount(words []uint64) int {
	return popCountKernel(words)
}

// MinIndex returns the index of the smallest value in v, the lowest index on
// ties, or -1 if v is empty.
//
// MinIndex does not allocate and is safe for concurrent use.
func MinIndex(v []int64) int {
	return minIndexKernel(v)
}

// FirstDue returns the index of the first d in deadlines with d <= now, or -1
// if there is none.
//
// FirstDue does not allocate and is safe for concurrent use.
func FirstDue(deadlines []int64, now int64) int {
	return firstDueKernel(deadlines, now)
}

// kernel names one implementation of an operation. The per-architecture
// dispatchers choose one with a <op>Choice function of the input length,
// which the tests also ask (NANOLB_REQUIRE_ASM).
type kernel uint8

const (
	kGeneric kernel = iota // generic
	kPOPCNT                // POPCNT
	kBMI2                  // BMI2
	kAVX2                  // AVX2
	kAVX512                // AVX512
	kNEON                  // NEON
)
