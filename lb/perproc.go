package lb

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	_ "unsafe" // for go:linkname

	"golang.org/x/sys/cpu"
)

// Counters per processor (P): a goroutine pinned to its P (procPin) is the
// only writer of that P's counter, so plain writes suffice, as in
// sync.Pool's per-P pools, and no two Ps write one cache line. Under the
// race detector, which does not know about pinning, the writes are atomic.
// Other Ps read a counter with an atomic load, which may miss an increment
// in progress: a reader sees a value the counter had an instant before.

// procPin returns the current P's id and keeps the goroutine on it until
// procUnpin. The runtime keeps these linkable on purpose (go.dev/issue/67401).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// stripe is one P's counter, alone on its cache line. Its methods other
// than load are for a goroutine pinned to its P.
type stripe struct {
	_    cpu.CacheLinePad
	next uint64
	_    cpu.CacheLinePad
}

// stripesPerProc returns a stripe for each P, rounded up to a power of
// two. GOMAXPROCS may grow later: users of stripes handle a P past them.
func stripesPerProc() []stripe {
	return make([]stripe, 1<<bits.Len(uint(runtime.GOMAXPROCS(0)-1)))
}

// take returns the counter and adds one to it.
func (s *stripe) take() uint64 {
	if raceEnabled {
		return atomic.AddUint64(&s.next, 1) - 1
	}
	k := s.next
	s.next = k + 1
	return k
}

// add adds d (modulo 2^64, so a negative d as its two's complement).
func (s *stripe) add(d uint64) {
	if raceEnabled {
		atomic.AddUint64(&s.next, d)
		return
	}
	s.next += d
}

// load reads the counter from any goroutine.
func (s *stripe) load() uint64 { return atomic.LoadUint64(&s.next) }

// procSum is a count kept per P: each add goes to the current P's stripe,
// with no atomic read-modify-write and no shared line, and load sums them.
// A lease counted up on one P and down on another leaves one stripe above
// and one below: only the sum means anything.
type procSum struct {
	stripes []stripe
	spill   atomic.Int64 // for Ps past the stripes
}

func newProcSum() procSum { return procSum{stripes: stripesPerProc()} }

// add adds d to the sum.
func (c *procSum) add(d int64) {
	c.addOn(procPin(), d)
	procUnpin()
}

// addOn adds d to the sum from P pid, which the caller is pinned to
// (procPin) until it returns. Hot paths pin around it themselves: add,
// with its two calls into the runtime, is too costly for the compiler to
// inline, while addOn is inlined.
func (c *procSum) addOn(pid int, d int64) {
	if pid < len(c.stripes) {
		c.stripes[pid].add(uint64(d))
		return
	}
	c.spill.Add(d)
}

// load returns the sum: exact when no add runs meanwhile, else off by at
// most the adds that ran during the reads (and clamped at zero: the counts
// kept this way never go below it).
func (c *procSum) load() int64 {
	sum := c.spill.Load()
	for i := range c.stripes {
		sum += int64(c.stripes[i].load())
	}
	return max(sum, 0)
}
