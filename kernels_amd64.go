//go:build !purego

package nanolb

import "github.com/nanolb/nanolb/internal/race"

// Dispatch on amd64. Each kernel runs when its CPU feature is present
// (cpu_amd64.go), the race detector is off, and the input is at least as
// long as the kernel's threshold; below it the Go code was faster. The
// thresholds come from the kernel=<name> sub-benchmarks of
// kernels_bench_test.go against kernel=generic in the same run,
//
//	go test -run '^$' -bench . -count 6 -benchtime 100ms . > bench.txt
//	benchstat -col /kernel -row .name,/n bench.txt
//
// on an AMD EPYC Zen 4 (family 0x19) VM with 2 cores, repeated three times
// plus a -count 10 run at n = 2..32; a threshold sits where the kernel won
// in every run. Percentages are the asm kernel's time relative to the
// generic time at the same n (negative: asm faster), from one such run.
const (
	// selectBMI2MinWords: BenchmarkSelect, BMI2 vs generic, -52% at n=1,
	// -42% at 4, -65% at 64, -73% at 1024: PDEP+TZCNT beats the broadword
	// select from the first word.
	selectBMI2MinWords = 1

	// popCountPOPCNTMinWords: BenchmarkPopCount, POPCNT vs generic, +27%
	// to +52% at n=1, +6% to +23% at 3; at 4 -17%, -10% and +12% in three
	// runs, so not a win; -23% to -37% at 8, -56% at 1024. Go's
	// bits.OnesCount64 is POPCNT already; the unrolled loop pays from 8.
	popCountPOPCNTMinWords = 8
	// popCountAVX512MinWords: BenchmarkPopCount, AVX512 vs POPCNT, 4.15 vs
	// 3.99 ns at n=8, 4.39 vs 5.28 at 16, 4.12 vs 8.37 at 32, 42 vs 192 at
	// 1024.
	popCountAVX512MinWords = 16

	// minIndexAVX512MinLen: BenchmarkMinIndex, AVX512 vs generic, +62% at
	// n=6, +16% at 8, -11% at 12, -28% at 16, -60% at 32, -86% at 1024.
	minIndexAVX512MinLen = 12
	// minIndexAVX2MinLen: BenchmarkMinIndex, AVX2 vs generic, +32% at n=8,
	// +5% at 12, -25% at 16, -57% at 32, -82% at 1024.
	minIndexAVX2MinLen = 16

	// firstDueAVX512MinLen: BenchmarkFirstDue (nothing due, full scan),
	// AVX512 vs generic, +6% to +21% at n=4, -11% to +1% at 6 (not a win
	// in every run), -13% to -23% at 8, -46% at 16, -86% at 1024.
	firstDueAVX512MinLen = 8
	// firstDueAVX2MinLen: BenchmarkFirstDue, AVX2 vs generic, +22% at n=4,
	// even at 6; at 8 -6% in one run and no difference in two others, so
	// not a win; -14% to -23% at 12 in every run, -46% at 16.
	firstDueAVX2MinLen = 12
)

// asmKernels reports whether this build has assembly kernels.
const asmKernels = true

func selectChoice(n int) kernel {
	if !race.Enabled && hasBMI2 && n >= selectBMI2MinWords {
		return kBMI2
	}
	return kGeneric
}

func selectKernel(words []uint64, k int) int {
	if selectChoice(len(words)) == kBMI2 {
		return selectBMI2(words, k)
	}
	return selectGeneric(words, k)
}

func popCountChoice(n int) kernel {
	switch {
	case race.Enabled:
	case hasAVX512POPCNT && n >= popCountAVX512MinWords:
		return kAVX512
	case hasPOPCNT && n >= popCountPOPCNTMinWords:
		return kPOPCNT
	}
	return kGeneric
}

func popCountKernel(words []uint64) int {
	switch popCountChoice(len(words)) {
	case kAVX512:
		return popCountAVX512(words)
	case kPOPCNT:
		return popCountPOPCNT(words)
	}
	return popCountGeneric(words)
}

func minIndexChoice(n int) kernel {
	switch {
	case race.Enabled:
	case hasAVX512 && n >= minIndexAVX512MinLen:
		return kAVX512
	case hasAVX2 && n >= minIndexAVX2MinLen:
		return kAVX2
	}
	return kGeneric
}

func minIndexKernel(v []int64) int {
	switch minIndexChoice(len(v)) {
	case kAVX512:
		return minIndexAVX512(v)
	case kAVX2:
		return minIndexAVX2(v)
	}
	return minIndexGeneric(v)
}

func firstDueChoice(n int) kernel {
	switch {
	case race.Enabled:
	case hasAVX512 && n >= firstDueAVX512MinLen:
		return kAVX512
	case hasAVX2 && n >= firstDueAVX2MinLen:
		return kAVX2
	}
	return kGeneric
}

func firstDueKernel(deadlines []int64, now int64) int {
	switch firstDueChoice(len(deadlines)) {
	case kAVX512:
		return firstDueAVX512(deadlines, now)
	case kAVX2:
		return firstDueAVX2(deadlines, now)
	}
	return firstDueGeneric(deadlines, now)
}

// selectBMI2 is the amd64 kernel for selectGeneric (k >= 0): POPCNT to find
// the word, PDEP and TZCNT inside it. Needs BMI2 and POPCNT.
//
//go:noescape
func selectBMI2(words []uint64, k int) int

// popCountPOPCNT is the amd64 kernel for popCountGeneric: unrolled POPCNT.
//
//go:noescape
func popCountPOPCNT(words []uint64) int

// popCountAVX512 is the amd64 kernel for popCountGeneric: VPOPCNTQ on zmm.
// Needs AVX-512 F, VL and VPOPCNTDQ.
//
//go:noescape
func popCountAVX512(words []uint64) int

// minIndexAVX2 is the amd64 kernel for minIndexGeneric: a VPCMPGTQ and
// VBLENDVPD minimum pass, then a VPCMPEQQ pass for its first index.
//
//go:noescape
func minIndexAVX2(v []int64) int

// minIndexAVX512 is the amd64 kernel for minIndexGeneric: a VPMINSQ pass,
// then a VPCMPEQQ pass for the minimum's first index. Needs AVX-512 F, VL.
//
//go:noescape
func minIndexAVX512(v []int64) int

// firstDueAVX2 is the amd64 kernel for firstDueGeneric: VPCMPGTQ against
// now+1, 16 deadlines a step.
//
//go:noescape
func firstDueAVX2(deadlines []int64, now int64) int

// firstDueAVX512 is the amd64 kernel for firstDueGeneric: VPCMPQ (d <= now)
// into mask registers, 32 deadlines a step. Needs AVX-512 F, VL.
//
//go:noescape
func firstDueAVX512(deadlines []int64, now int64) int
