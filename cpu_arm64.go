//go:build !purego

package nanolb

import "golang.org/x/sys/cpu"

// hasNEON gates the arm64 kernels (Advanced SIMD, present on every arm64
// CPU Go supports, but read like the amd64 features so that tests can switch
// it off with disableNEON).
var hasNEON = cpu.ARM64.HasASIMD
