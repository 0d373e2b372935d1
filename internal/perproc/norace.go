//go:build !race

package perproc

// raceEnabled makes a stripe's writes atomic, for the race detector, which
// does not know that a pinned goroutine is its stripe's only writer.
const raceEnabled = false
