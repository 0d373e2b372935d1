// Package perproc keeps counters per processor (P), as sync.Pool keeps its
// per-P pools: a goroutine pinned to its P (Pin) is the only writer of
// that P's Stripe, so plain writes suffice and no two Ps write one cache
// line. Other Ps read a stripe with an atomic load, which may miss an
// increment in progress: a reader sees a value the counter had an instant
// before. Under the race detector, which does not know about pinning, the
// writes are atomic.
//
// Stripes is one counter per P, for a caller that pins around its own use
// (lb's round-robin tickets); Sum is a count spread over stripes, whose
// adds share no cache line and whose total is the sum of all of them.
package perproc

import (
	"math/bits"
	"runtime"
	"sync/atomic"
	_ "unsafe" // for go:linkname

	"github.com/nanolb/nanolb/internal/race"
	"golang.org/x/sys/cpu"
)

// Pin returns the current P's id and keeps the goroutine on it, with
// preemption off, until Unpin: keep the pinned section short, and never
// block in it. The runtime keeps these linkable on purpose
// (go.dev/issue/67401).
//
//go:linkname Pin runtime.procPin
func Pin() int

// Unpin ends Pin's pinning.
//
//go:linkname Unpin runtime.procUnpin
func Unpin()

// Stripe is one P's counter, alone on its cache line. Take and Add are
// for a goroutine pinned (Pin) to that P; Load and Store are for any.
// The zero Stripe is a counter at zero.
type Stripe struct {
	_ cpu.CacheLinePad
	n uint64
	_ cpu.CacheLinePad
}

// Stripes returns a zeroed Stripe for each P, rounded up to a power of
// two. GOMAXPROCS may grow later: users of stripes handle a P past them.
func Stripes() []Stripe {
	return make([]Stripe, 1<<bits.Len(uint(runtime.GOMAXPROCS(0)-1)))
}

// Take returns the counter and adds one to it.
func (s *Stripe) Take() uint64 {
	if race.Enabled {
		return atomic.AddUint64(&s.n, 1) - 1
	}
	k := s.n
	s.n = k + 1
	return k
}

// Add adds d (modulo 2^64, so a negative d as its two's complement).
func (s *Stripe) Add(d uint64) {
	if race.Enabled {
		atomic.AddUint64(&s.n, d)
		return
	}
	s.n += d
}

// Load reads the counter from any goroutine.
func (s *Stripe) Load() uint64 { return atomic.LoadUint64(&s.n) }

// Store sets the counter, as a new table's setup does before it is
// shared.
func (s *Stripe) Store(v uint64) { atomic.StoreUint64(&s.n, v) }

// Sum is a count kept per P: each add goes to the current P's stripe,
// with no atomic read-modify-write and no shared line, and Load sums them.
// A count added on one P and taken back on another leaves one stripe above
// and one below: only the sum means anything. The zero Sum counts
// everything in one atomic; NewSum spreads it.
type Sum struct {
	stripes []Stripe
	spill   atomic.Int64 // for Ps past the stripes
}

// NewSum returns a zero Sum with a stripe per P.
func NewSum() Sum { return Sum{stripes: Stripes()} }

// Add adds d to the sum. It costs two calls into the runtime that the
// compiler cannot inline; hot paths pin around AddOn themselves.
func (c *Sum) Add(d int64) {
	c.AddOn(Pin(), d)
	Unpin()
}

// AddOn adds d to the sum from P pid, which the caller is pinned to (Pin)
// until it returns. Unlike Add it is inlined.
func (c *Sum) AddOn(pid int, d int64) {
	if pid < len(c.stripes) {
		c.stripes[pid].Add(uint64(d))
		return
	}
	c.spill.Add(d)
}

// Load returns the sum: exact when no add runs meanwhile, else off by at
// most the adds that ran during the reads, and clamped at zero (the counts
// kept this way never go below it).
func (c *Sum) Load() int64 {
	sum := c.spill.Load()
	for i := range c.stripes {
		sum += int64(c.stripes[i].Load())
	}
	return max(sum, 0)
}
