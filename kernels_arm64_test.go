//go:build !purego

package nanolb

import "golang.org/x/sys/cpu"

// The arm64 kernels this CPU can run, the generic one first.
func selectImpls() []impl[selectFunc] {
	ks := []impl[selectFunc]{{"generic", selectGeneric}}
	if cpu.ARM64.HasASIMD {
		ks = append(ks, impl[selectFunc]{"NEON", selectNEON})
	}
	return ks
}

func popCountImpls() []impl[popCountFunc] {
	ks := []impl[popCountFunc]{{"generic", popCountGeneric}}
	if cpu.ARM64.HasASIMD {
		ks = append(ks, impl[popCountFunc]{"NEON", popCountNEON})
	}
	return ks
}

func minIndexImpls() []impl[minIndexFunc] {
	ks := []impl[minIndexFunc]{{"generic", minIndexGeneric}}
	if cpu.ARM64.HasASIMD {
		ks = append(ks, impl[minIndexFunc]{"NEON", minIndexNEON})
	}
	return ks
}

func firstDueImpls() []impl[firstDueFunc] {
	ks := []impl[firstDueFunc]{{"generic", firstDueGeneric}}
	if cpu.ARM64.HasASIMD {
		ks = append(ks, impl[firstDueFunc]{"NEON", firstDueNEON})
	}
	return ks
}

// disableNEON switches every NEON kernel off for the dispatch:
// defer disableNEON()().
func disableNEON() func() {
	old := hasNEON
	hasNEON = false
	return func() { hasNEON = old }
}

func featureToggles() []toggle { return []toggle{{"NEON", disableNEON}} }

func selectThresholds() []int   { return []int{selectNEONMinWords} }
func popCountThresholds() []int { return []int{popCountNEONMinWords} }
func minIndexThresholds() []int { return []int{minIndexNEONMinLen} }
func firstDueThresholds() []int { return []int{firstDueNEONMinLen} }

// requiredKernels: on arm64 every operation must use NEON at large sizes.
func requiredKernels() []kernelChoice {
	const n = 4096
	return []kernelChoice{
		{"Select", n, selectChoice(n).String(), kNEON.String()},
		{"PopCount", n, popCountChoice(n).String(), kNEON.String()},
		{"MinIndex", n, minIndexChoice(n).String(), kNEON.String()},
		{"FirstDue", n, firstDueChoice(n).String(), kNEON.String()},
	}
}
