//go:build (!amd64 && !arm64) || purego

package nanolb

import "runtime"

// Without assembly the generic kernels are the only ones.
func selectImpls() []impl[selectFunc]     { return []impl[selectFunc]{{"generic", selectGeneric}} }
func popCountImpls() []impl[popCountFunc] { return []impl[popCountFunc]{{"generic", popCountGeneric}} }
func minIndexImpls() []impl[minIndexFunc] { return []impl[minIndexFunc]{{"generic", minIndexGeneric}} }
func firstDueImpls() []impl[firstDueFunc] { return []impl[firstDueFunc]{{"generic", firstDueGeneric}} }

func featureToggles() []toggle { return nil }

func selectThresholds() []int   { return nil }
func popCountThresholds() []int { return nil }
func minIndexThresholds() []int { return nil }
func firstDueThresholds() []int { return nil }

// requiredKernels: amd64 and arm64 must not be built without assembly when
// NANOLB_REQUIRE_ASM=1 (the purego tag); other architectures have none.
func requiredKernels() []kernelChoice {
	if runtime.GOARCH == "amd64" || runtime.GOARCH == "arm64" {
		return []kernelChoice{{"every kernel (purego build)", 0, "generic", "assembly"}}
	}
	return nil
}
