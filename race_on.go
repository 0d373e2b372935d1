//go:build race

package nanolb

// raceEnabled turns the assembly kernels off under the race detector, which
// does not see the memory they read; the Go path is checked instead.
const raceEnabled = true
