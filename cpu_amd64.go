//go:build !purego

package nanolb

import (
	"github.com/klauspost/cpuid/v2"
	"golang.org/x/sys/cpu"
)

// CPU features the amd64 kernels need, read once at package init. Tests
// switch them off (disableBMI2 and friends in the _test files) to check and
// measure the paths a smaller CPU would take.
var (
	// hasPOPCNT gates popCountPOPCNT.
	hasPOPCNT = cpu.X86.HasPOPCNT

	// hasBMI2 gates selectBMI2 (POPCNT to find the word, PDEP+TZCNT inside
	// it; TZCNT is BMI1). It is off where PDEP is microcoded: AMD and Hygon before family
	// 0x19 (Zen 1 and 2) run PDEP in 18 to 300 cycles depending on the mask,
	// slower than the broadword select in selectInWord. x/sys/cpu does not
	// know the family, so cpuid/v2 supplies it.
	hasBMI2 = cpu.X86.HasBMI2 && cpu.X86.HasBMI1 && cpu.X86.HasPOPCNT && !slowPDEP()

	// hasAVX2 gates minIndexAVX2 and firstDueAVX2.
	hasAVX2 = cpu.X86.HasAVX2

	// hasAVX512 gates minIndexAVX512 and firstDueAVX512: AVX-512 F for the
	// zmm compares and VPMINSQ, VL for the ymm/xmm forms in the final
	// reduction. x/sys/cpu already folds in the OS's ZMM state support.
	hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

	// hasAVX512POPCNT gates popCountAVX512 (VPOPCNTQ).
	hasAVX512POPCNT = hasAVX512 && cpu.X86.HasAVX512VPOPCNTDQ
)

// slowPDEP reports whether PDEP/PEXT are microcoded on this CPU.
func slowPDEP() bool {
	v := cpuid.CPU.VendorID
	return (v == cpuid.AMD || v == cpuid.Hygon) && cpuid.CPU.Family < 0x19
}
