//go:build (!amd64 && !arm64) || purego

package nanolb

// Without assembly (another architecture, or the purego tag) every kernel is
// the reference Go code.

func selectKernel(words []uint64, k int) int { return selectGeneric(words, k) }

func popCountKernel(words []uint64) int { return popCountGeneric(words) }

func minIndexKernel(v []int64) int { return minIndexGeneric(v) }

func firstDueKernel(deadlines []int64, now int64) int { return firstDueGeneric(deadlines, now) }

// asmKernels reports whether this build has assembly kernels.
const asmKernels = false
