package lbhttp

import (
	"sync"
	"sync/atomic"
	"time"
)

// token is one retry in the budget's fixed-point unit: a millionth of a
// retry, so a ratio of 0.2 deposits 200,000 units per request.
const token = 1_000_000

// budgetWindow is how many seconds of the minimum rate the bucket holds.
const budgetWindow = 10

// budget is the retry budget: a bucket of tokens that each request fills
// by ratio and time fills at perSecond, emptied by one token per retry and
// capped at budgetWindow seconds of perSecond.
//
// Requests only add to tokens (one atomic add, no clock); a retry, which is
// rare, takes the lock, credits the time since the last retry, applies the
// cap and takes its token. So the cap holds whenever it matters: when a
// retry asks.
type budget struct {
	tokens     atomic.Int64 // units; may pass capacity between retries
	perRequest int64        // units each request adds
	perSecond  float64      // units time adds per second
	capacity   int64

	mu   sync.Mutex
	last time.Time // when time was last credited; zero before the first retry
}

func (b *budget) init(ratio, perSecond float64) {
	b.perRequest = int64(ratio * token)
	if b.perRequest < 1 {
		b.perRequest = 1
	}
	b.perSecond = perSecond * token
	b.capacity = int64(budgetWindow * perSecond * token)
	if b.capacity < token {
		b.capacity = token // room for one retry at least
	}
	b.tokens.Store(b.capacity)
}

// deposit credits one request.
func (b *budget) deposit() {
	if b.tokens.Load() < b.capacity {
		b.tokens.Add(b.perRequest)
	}
}

// withdraw takes one retry's token, reporting whether there was one.
func (b *budget) withdraw() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	var credit int64
	if !b.last.IsZero() {
		credit = int64(now.Sub(b.last).Seconds() * b.perSecond)
	}
	b.last = now
	for {
		old := b.tokens.Load()
		have := min(old+min(credit, b.capacity), b.capacity)
		ok := have >= token
		if ok {
			have -= token
		}
		if b.tokens.CompareAndSwap(old, have) {
			return ok
		}
	}
}

// refund gives back the token of a retry that was not sent.
func (b *budget) refund() {
	b.tokens.Add(token)
}
