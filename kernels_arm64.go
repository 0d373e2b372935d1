//go:build !purego

package nanolb

import "github.com/nanolb/nanolb/internal/race"

// Dispatch on arm64. Each NEON kernel runs when the CPU has Advanced SIMD
// (cpu_arm64.go), the race detector is off, and the input is at least as
// long as the kernel's threshold.
//
// These thresholds are NOT measured: no arm64 machine was available, and
// the kernels are tested under qemu-aarch64, whose timings say nothing about
// real cores. They are set where the NEON code starts doing vector work
// (below one 8-element step every kernel runs the same scalar loop as Go,
// plus call overhead) and, for the two-pass MinIndex and for FirstDue, from
// where the same algorithms on 4-lane AVX2 broke even on Zen 4 (n=16 and
// n=12, see kernels_amd64.go), doubled or rounded up for 2-lane NEON.
// Re-measure on arm64 hardware with
//
//	go test -run '^$' -bench . -count 6 -benchtime 100ms . > arm64.txt
//	benchstat -col /kernel -row .name,/n arm64.txt
//
// and set each to the smallest n where kernel=NEON beats kernel=generic.
const (
	// selectNEONMinWords: one 8-word VCNT block; below it the kernel is
	// Go's own word loop (bits.OnesCount64 is VCNT+VUADDLV on arm64).
	selectNEONMinWords = 8
	// popCountNEONMinWords: one 8-word VCNT block, as above.
	popCountNEONMinWords = 8
	// minIndexNEONMinLen: AVX2 broke even at 16 with 4 lanes; NEON has 2.
	minIndexNEONMinLen = 32
	// firstDueNEONMinLen: AVX2 broke even at 12 with 4 lanes; two 8-deadline
	// steps.
	firstDueNEONMinLen = 16
)

// asmKernels reports whether this build has assembly kernels.
const asmKernels = true

func selectChoice(n int) kernel {
	if !race.Enabled && hasNEON && n >= selectNEONMinWords {
		return kNEON
	}
	return kGeneric
}

func selectKernel(words []uint64, k int) int {
	if selectChoice(len(words)) == kNEON {
		return selectNEON(words, k)
	}
	return selectGeneric(words, k)
}

func popCountChoice(n int) kernel {
	if !race.Enabled && hasNEON && n >= popCountNEONMinWords {
		return kNEON
	}
	return kGeneric
}

func popCountKernel(words []uint64) int {
	if popCountChoice(len(words)) == kNEON {
		return popCountNEON(words)
	}
	return popCountGeneric(words)
}

func minIndexChoice(n int) kernel {
	if !race.Enabled && hasNEON && n >= minIndexNEONMinLen {
		return kNEON
	}
	return kGeneric
}

func minIndexKernel(v []int64) int {
	if minIndexChoice(len(v)) == kNEON {
		return minIndexNEON(v)
	}
	return minIndexGeneric(v)
}

func firstDueChoice(n int) kernel {
	if !race.Enabled && hasNEON && n >= firstDueNEONMinLen {
		return kNEON
	}
	return kGeneric
}

func firstDueKernel(deadlines []int64, now int64) int {
	if firstDueChoice(len(deadlines)) == kNEON {
		return firstDueNEON(deadlines, now)
	}
	return firstDueGeneric(deadlines, now)
}

// selectNEON is the arm64 kernel for selectGeneric (k >= 0): VCNT block
// counts to find the word, the broadword select of selectInWord inside it.
//
//go:noescape
func selectNEON(words []uint64, k int) int

// popCountNEON is the arm64 kernel for popCountGeneric: VCNT and VUADDLV on
// 64-byte blocks.
//
//go:noescape
func popCountNEON(words []uint64) int

// minIndexNEON is the arm64 kernel for minIndexGeneric: a CMGT and VBIT
// minimum pass, then a VCMEQ pass for its first index.
//
//go:noescape
func minIndexNEON(v []int64) int

// firstDueNEON is the arm64 kernel for firstDueGeneric: CMGE (now >= d) on
// 8 deadlines a step.
//
//go:noescape
func firstDueNEON(deadlines []int64, now int64) int
