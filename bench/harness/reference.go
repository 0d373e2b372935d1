package harness

import (
	"math/rand/v2"
	"sync/atomic"
)

// cacheLine is the padding unit. 64 bytes covers amd64 and most arm64 cores;
// Apple's 128-byte lines would only make the floor look slightly worse.
const cacheLine = 64

// paddedCounter is an int64 counter alone on its cache line.
type paddedCounter struct {
	_ [cacheLine]byte
	n atomic.Int64
	_ [cacheLine - 8]byte
}

// AtomicPair is reference (a): the cost floor of any balancer that tracks
// in-flight requests. Its cycle is two atomic adds, Add(1) then Add(-1), on
// one counter that shares its cache line with nothing.
type AtomicPair struct {
	c    paddedCounter
	addr string
}

// NewAtomicPair returns the floor reference; addrs[0] is what Cycle reports.
func NewAtomicPair(addrs []string) (Cycler, error) {
	a := &AtomicPair{addr: "floor"}
	if len(addrs) > 0 {
		a.addr = addrs[0]
	}
	return a, nil
}

// Cycle increments then decrements the counter.
func (a *AtomicPair) Cycle() string {
	a.c.n.Add(1)
	a.c.n.Add(-1)
	return a.addr
}

// P2C is reference (b): a minimal lock-free power-of-two-choices balancer.
// Two distinct endpoints are drawn with math/rand/v2, the one with fewer
// requests in flight wins, and its padded counter is incremented for the
// duration of the lease. It has no health, ejection or weights: it is what a
// P2C costs when it does nothing else.
type P2C struct {
	inflight []paddedCounter
	addrs    []string
}

// NewP2C returns reference (b) over addrs.
func NewP2C(addrs []string) (Cycler, error) {
	if len(addrs) == 0 {
		return nil, errNoAddrs
	}
	return &P2C{inflight: make([]paddedCounter, len(addrs)), addrs: addrs}, nil
}

// Pick returns the index of the chosen endpoint, already counted in flight.
func (p *P2C) Pick() int {
	n := uint64(len(p.inflight))
	if n == 1 {
		p.inflight[0].n.Add(1)
		return 0
	}
	i := rand.Uint64N(n)
	j := rand.Uint64N(n - 1)
	if j >= i {
		j++
	}
	if p.inflight[j].n.Load() < p.inflight[i].n.Load() {
		i = j
	}
	p.inflight[i].n.Add(1)
	return int(i)
}

// Done releases a pick returned by Pick.
func (p *P2C) Done(i int) { p.inflight[i].n.Add(-1) }

// Cycle picks and releases one endpoint.
func (p *P2C) Cycle() string {
	i := p.Pick()
	p.Done(i)
	return p.addrs[i]
}

// Reference names of the two reference implementations in benchmark names.
const (
	RefAtomicPair = "ref-atomic-pair"
	RefP2C        = "ref-p2c"
)

// References returns the two reference implementations, floor first.
func References() []Impl {
	return []Impl{
		{Name: RefAtomicPair, Build: NewAtomicPair, Floor: true},
		{Name: RefP2C, Build: NewP2C},
	}
}
