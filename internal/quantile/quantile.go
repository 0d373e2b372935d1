// Package quantile is a concurrent latency histogram that answers a
// percentile over a sliding window, for hedged requests: Finagle's backup
// requests send a second copy of a request once it has been outstanding
// longer than the p(100·(1 − maxExtraLoad)) latency, so p99 costs about 1%
// extra load.
//
// Record counts a latency with an atomic load and one atomic add, without
// allocating or reading the clock. Quantile reads the clock; once per
// Refresh it takes a mutex, turns the window and sums the counts into an
// immutable snapshot, and in between it answers from that snapshot
// without a lock.
//
// Resolution: buckets are log-linear, 16 to each power of two from
// 1.024 µs up to Max (2^37 ns, about 137.4 s), and 64 ns wide below
// 1.024 µs. Quantile answers the upper end of the bucket that holds the
// true quantile, so the answer is never below it and at most 1/16 (6.25%)
// above it, or 64 ns above it under 1.024 µs: a hedge sent a little late
// costs a little latency, one sent early costs load beyond its budget. Samples of Max or more count in
// the last bucket, whose answer is Max.
//
// Window: the counts are kept in Generations generations of Window /
// Generations each, in a ring. Record adds to the current generation;
// Quantile, when a generation's time is up, clears the oldest and makes it
// current. An answer counts no sample recorded more than Window before
// the answer was computed, and every sample recorded within
// Window·(Generations−1)/Generations before it, provided Quantile had
// refreshed since that sample's generation began: the ring turns only in
// Quantile, so a sample recorded after a silence counts in the generation
// the ring was left at, and ages out early, never late.
//
// Options are a struct whose zero fields mean their defaults.
package quantile

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Options' zero fields, and the number of generations.
const (
	DefaultWindow     = 10 * time.Second
	DefaultRefresh    = 100 * time.Millisecond
	DefaultMinSamples = 100
	Generations       = 4
)

// Max is the upper end of the last bucket: Quantile answers at most Max,
// and a sample of Max or more counts in the last bucket.
const Max = time.Duration(1) << (maxExp + 1)

// Options configure a Histogram. A zero field means its default.
type Options struct {
	// Window is how long a sample counts, at most: DefaultWindow if zero.
	// It ages out in steps of Window / Generations.
	Window time.Duration
	// Refresh is how long Quantile reuses an answer before summing the
	// counts again: if zero, DefaultRefresh or Window / Generations,
	// whichever is shorter. It must not exceed Window / Generations, since
	// the window turns only on a refresh.
	Refresh time.Duration
	// MinSamples is how many samples the window must hold for Quantile to
	// answer: DefaultMinSamples if zero. With fewer, callers use their
	// fallback.
	MinSamples int
}

// Histogram counts latencies over a sliding window and answers their
// quantiles. Its zero value is not usable; New makes one. It is safe for
// concurrent use.
type Histogram struct {
	width      time.Duration // one generation's time
	refresh    time.Duration
	minSamples uint64
	start      time.Time // the origin of generation numbers, with its monotonic reading

	head atomic.Int64             // the number of the current generation
	snap atomic.Pointer[snapshot] // the last answer's counts; nil before the first

	mu   sync.Mutex // serialises refreshes, and so turning the ring
	ring [Generations][nBuckets]atomic.Uint64
}

// snapshot is the ring's counts summed at one moment. It is never changed
// once published.
type snapshot struct {
	at  time.Duration    // when it was taken, since the Histogram's start
	cum [nBuckets]uint64 // cum[i] is the number of samples in buckets 0 to i
}

// New returns an empty Histogram whose window starts now. It returns an
// error for a negative option, a Window under Generations nanoseconds or a
// Refresh longer than Window/Generations.
func New(o Options) (*Histogram, error) {
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	if o.Refresh == 0 {
		o.Refresh = min(DefaultRefresh, o.Window/Generations)
	}
	if o.MinSamples == 0 {
		o.MinSamples = DefaultMinSamples
	}
	switch {
	case o.Window < 0 || o.Refresh < 0 || o.MinSamples < 0:
		return nil, errors.New("quantile: negative option")
	case o.Window < Generations:
		return nil, errors.New("quantile: Window shorter than Generations nanoseconds")
	case o.Refresh > o.Window/Generations:
		return nil, errors.New("quantile: Refresh longer than Window/Generations")
	}
	return &Histogram{
		width:      o.Window / Generations,
		refresh:    o.Refresh,
		minSamples: uint64(o.MinSamples),
		start:      time.Now(),
	}, nil
}

// Record counts one latency in the current generation. Durations outside
// the buckets count in the first or last bucket.
func (h *Histogram) Record(d time.Duration) {
	h.ring[uint64(h.head.Load())%Generations][bucketOf(d)].Add(1)
}

// Quantile returns the q-quantile of the latencies in the window: the
// upper end of the bucket holding the sample of rank ⌈q·n⌉ among the n
// samples, in ascending order. For a sample under Max, it is never below
// that sample and at most 1/16 above it (see the package doc). q ≤ 0 (or NaN) asks for the least
// sample, q ≥ 1 for the greatest. It returns false, and no duration, if
// the window holds fewer than MinSamples samples.
//
// The answer may be up to Refresh old: within Refresh of the last
// refresh, Quantile answers from its snapshot without taking a lock.
func (h *Histogram) Quantile(q float64) (time.Duration, bool) {
	now := time.Since(h.start)
	s := h.snap.Load()
	if s == nil || now-s.at >= h.refresh {
		s = h.update(now)
	}
	n := s.cum[nBuckets-1]
	if n < h.minSamples { // minSamples is at least 1
		return 0, false
	}
	rank := uint64(1)
	if q >= 1 {
		rank = n
	} else if q > 0 {
		rank = max(1, min(n, uint64(math.Ceil(q*float64(n)))))
	}
	lo, hi := 0, nBuckets-1 // the least i with cum[i] ≥ rank is in [lo, hi]
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if s.cum[mid] >= rank {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return upperBound(lo), true
}

// update turns the ring to the generation of now, clearing those that
// left the window, and publishes a new snapshot, unless another caller
// published one within Refresh of now while this one waited.
func (h *Histogram) update(now time.Duration) *snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s := h.snap.Load(); s != nil && now-s.at < h.refresh {
		return s
	}
	gen := int64(now / h.width)
	if head := h.head.Load(); gen > head {
		for n := max(head+1, gen-Generations+1); n <= gen; n++ {
			for i := range h.ring[n%Generations] {
				h.ring[n%Generations][i].Store(0)
			}
		}
		h.head.Store(gen)
	}
	s := &snapshot{at: now}
	var total uint64
	for i := range s.cum {
		for g := range h.ring {
			total += h.ring[g][i].Load()
		}
		s.cum[i] = total
	}
	h.snap.Store(s)
	return s
}
