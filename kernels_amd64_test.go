//go:build !purego

package nanolb

import (
	"math"

	"golang.org/x/sys/cpu"
)

// The amd64 kernels this CPU can run, the generic one first. A kernel is
// listed when the CPU has its instructions even if the dispatch leaves it
// off (selectBMI2 on a CPU with slow PDEP is still correct, only slow).
func selectImpls() []impl[selectFunc] {
	ks := []impl[selectFunc]{{"generic", selectGeneric}}
	if cpu.X86.HasBMI2 && cpu.X86.HasBMI1 && cpu.X86.HasPOPCNT {
		ks = append(ks, impl[selectFunc]{"BMI2", selectBMI2})
	}
	return ks
}

func popCountImpls() []impl[popCountFunc] {
	ks := []impl[popCountFunc]{{"generic", popCountGeneric}}
	if cpu.X86.HasPOPCNT {
		ks = append(ks, impl[popCountFunc]{"POPCNT", popCountPOPCNT})
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VPOPCNTDQ {
		ks = append(ks, impl[popCountFunc]{"AVX512", popCountAVX512})
	}
	return ks
}

func minIndexImpls() []impl[minIndexFunc] {
	ks := []impl[minIndexFunc]{{"generic", minIndexGeneric}}
	if cpu.X86.HasAVX2 {
		ks = append(ks, impl[minIndexFunc]{"AVX2", minIndexAVX2})
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ks = append(ks, impl[minIndexFunc]{"AVX512", minIndexAVX512})
	}
	return ks
}

func firstDueImpls() []impl[firstDueFunc] {
	ks := []impl[firstDueFunc]{{"generic", firstDueGeneric}}
	if cpu.X86.HasAVX2 {
		ks = append(ks, impl[firstDueFunc]{"AVX2", firstDueAVX2})
	}
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL {
		ks = append(ks, impl[firstDueFunc]{"AVX512", firstDueAVX512})
	}
	return ks
}

// disableBMI2 switches selectBMI2 off for the dispatch: defer disableBMI2()().
func disableBMI2() func() { return switchOff(&hasBMI2) }

// disablePOPCNT switches popCountPOPCNT off for the dispatch.
func disablePOPCNT() func() { return switchOff(&hasPOPCNT) }

// disableAVX2 switches the AVX2 kernels off for the dispatch.
func disableAVX2() func() { return switchOff(&hasAVX2) }

// disableAVX512 switches every AVX-512 kernel off for the dispatch.
func disableAVX512() func() {
	a, b := switchOff(&hasAVX512), switchOff(&hasAVX512POPCNT)
	return func() { b(); a() }
}

func switchOff(flag *bool) func() {
	old := *flag
	*flag = false
	return func() { *flag = old }
}

func featureToggles() []toggle {
	return []toggle{
		{"BMI2", disableBMI2},
		{"POPCNT", disablePOPCNT},
		{"AVX2", disableAVX2},
		{"AVX512", disableAVX512},
	}
}

func selectThresholds() []int { return []int{selectBMI2MinWords} }

func popCountThresholds() []int {
	return []int{popCountPOPCNTMinWords, popCountAVX512MinWords}
}

func minIndexThresholds() []int { return []int{minIndexAVX2MinLen, minIndexAVX512MinLen} }

func firstDueThresholds() []int { return []int{firstDueAVX2MinLen, firstDueAVX512MinLen} }

// requiredKernels: on an amd64 CPU with these features, the dispatch must
// pick the assembly kernel at large sizes (every threshold is below 4096).
func requiredKernels() []kernelChoice {
	const n = 4096
	var cs []kernelChoice
	want := func(op string, got kernel, k kernel) {
		cs = append(cs, kernelChoice{op, n, got.String(), k.String()})
	}
	if cpu.X86.HasBMI2 && cpu.X86.HasBMI1 && cpu.X86.HasPOPCNT && !slowPDEP() {
		want("Select", selectChoice(n), kBMI2)
	}
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VPOPCNTDQ:
		want("PopCount", popCountChoice(n), kAVX512)
	case cpu.X86.HasPOPCNT && popCountPOPCNTMinWords < math.MaxInt:
		want("PopCount", popCountChoice(n), kPOPCNT)
	}
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL:
		want("MinIndex", minIndexChoice(n), kAVX512)
		want("FirstDue", firstDueChoice(n), kAVX512)
	case cpu.X86.HasAVX2:
		want("MinIndex", minIndexChoice(n), kAVX2)
		want("FirstDue", firstDueChoice(n), kAVX2)
	}
	return cs
}
