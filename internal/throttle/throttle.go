// Package throttle is client-side adaptive throttling as the Google SRE
// book states it ("Handling Overload", chapter 21): a client counts, over
// the last two minutes, the requests it was asked to send and the ones
// its backends accepted, and rejects a new request locally with
// probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// so that once backends reject more than 1 − 1/K of what they get, what
// goes on the wire falls to about K times what they accept. Requests the
// throttle rejects count as requests, so a client whose backends accept
// nothing sends almost nothing until they do.
//
// The window is a ring of one-second buckets of atomic counters, with
// running totals over the ring, so a request costs a clock read, a few
// atomic operations and, when it may be rejected, a random draw; a short
// lock is taken only when a second has passed and the ring turns. The
// clock read is what makes the window a window; callers that opt into
// throttling pay it.
package throttle

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/nanolb/nanolb/internal/fastrand"
)

// Window is how long a request or an accept counts: the SRE book's two
// minutes, in Buckets buckets, the oldest of which is dropped whole.
const (
	Window  = 2 * time.Minute
	Buckets = 120
	width   = Window / Buckets
)

// DefaultK is the SRE book's K: backends may reject half of what they get
// before the client sheds anything.
const DefaultK = 2

// bucket is one second's counts.
type bucket struct {
	requests atomic.Int64
	accepts  atomic.Int64
}

// Throttle is one client's adaptive throttle. Its zero value is not
// usable; New makes one. It is safe for concurrent use.
//
// Counts near a bucket's turn may land in the bucket before or after it,
// and an accept recorded long after its request lands in the current
// bucket: the window is two minutes to within a second.
type Throttle struct {
	k     float64
	start time.Time // the origin of bucket numbers, with its monotonic reading

	// requests and accepts are the sums over the ring. They may lag a
	// bucket's counts for an instant while the ring turns, so they are
	// read as at least zero.
	requests atomic.Int64
	accepts  atomic.Int64
	head     atomic.Int64  // the number of the newest bucket in the ring
	rejected atomic.Uint64 // requests Allow rejected since New; never drops

	mu   sync.Mutex // serialises turning the ring
	ring [Buckets]bucket
}

// New returns a throttle with the given K, which must be at least 1 (a
// smaller K would reject requests backends accept). The window starts now.
func New(k float64) *Throttle {
	if !(k >= 1) {
		panic("throttle: K below 1")
	}
	return &Throttle{k: k, start: time.Now()}
}

// Allow counts a request and reports whether to send it: false with the
// probability above, drawn against the counts before this request. A
// request allowed is later passed to Record, or to Cancel if it was not
// sent after all.
func (t *Throttle) Allow() bool {
	b := &t.ring[t.advance()%Buckets]
	requests, accepts := t.Counts()
	b.requests.Add(1)
	t.requests.Add(1)
	excess := float64(requests) - t.k*float64(accepts)
	if excess <= 0 {
		return true
	}
	p := excess / float64(requests+1)
	if float64(fastrand.Uint63()>>10)*(1.0/(1<<53)) >= p {
		return true
	}
	t.rejected.Add(1)
	return false
}

// Record counts how an allowed request ended: accepted, or rejected by
// the backend as overloaded. A rejection changes no count (the request
// was counted by Allow), so Record(false) is there for the reader.
func (t *Throttle) Record(accepted bool) {
	if !accepted {
		return
	}
	t.ring[t.head.Load()%Buckets].accepts.Add(1)
	t.accepts.Add(1)
}

// Cancel takes back an allowed request that was not sent (no endpoint to
// take it, or its caller gave up first): it says nothing of the backends.
func (t *Throttle) Cancel() {
	t.ring[t.head.Load()%Buckets].requests.Add(-1)
	t.requests.Add(-1)
}

// Counts returns the requests and accepts the window holds, as of the
// last time it turned (Allow, Stats or Probability turns it).
func (t *Throttle) Counts() (requests, accepts int64) {
	return max(t.requests.Load(), 0), max(t.accepts.Load(), 0)
}

// Stats is a throttle's counts at one moment, as Throttle.Stats reads them.
type Stats struct {
	// Requests and Accepts are what the window holds now: the requests
	// Allow counted over the last Window, those it rejected included and
	// those cancelled not, and the accepts Record counted.
	Requests, Accepts int64
	// Rejected is the number of requests Allow has rejected since New: a
	// total that only grows, not a count over the window.
	Rejected uint64
}

// Stats turns the window to now, so that counts older than Window are
// gone even when no request came since, and returns its counts with the
// rejections since New. It is meant for monitoring: like Probability, it
// takes the lock only when the ring has a second to turn.
func (t *Throttle) Stats() Stats {
	t.advance()
	requests, accepts := t.Counts()
	return Stats{Requests: requests, Accepts: accepts, Rejected: t.rejected.Load()}
}

// Probability is the probability with which Allow would reject a request
// now, from the counts the window holds.
func (t *Throttle) Probability() float64 {
	t.advance()
	requests, accepts := t.Counts()
	return max(0, (float64(requests)-t.k*float64(accepts))/float64(requests+1))
}

// advance turns the ring to the current second, dropping the buckets that
// left the window, and returns the current bucket's number.
func (t *Throttle) advance() int64 {
	now := int64(time.Since(t.start) / width)
	if head := t.head.Load(); now <= head {
		return head
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	head := t.head.Load()
	if now <= head {
		return head
	}
	for n := max(head+1, now-Buckets+1); n <= now; n++ {
		b := &t.ring[n%Buckets]
		t.requests.Add(-b.requests.Swap(0))
		t.accepts.Add(-b.accepts.Swap(0))
	}
	t.head.Store(now)
	return now
}
