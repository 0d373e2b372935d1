// Package retrybudget is a retry budget in the manner of Finagle's
// RetryBudget and Envoy's retry budgets: a bucket of tokens that each
// request fills by a ratio and time fills at a minimum rate, emptied by one
// token per extra attempt (a retry or a hedge), and capped at Window
// seconds of the rate. It keeps extra attempts from multiplying an outage:
// over any stretch they add at most ratio × requests + rate × seconds,
// plus what the bucket held.
//
// A request only adds to the tokens (one atomic add, no clock); an extra
// attempt, which is rare, takes a lock, credits the time since the last
// one, applies the cap and takes its token, so the cap holds whenever it
// matters: when an attempt asks.
package retrybudget

import (
	"sync"
	"sync/atomic"
	"time"
)

// token is one attempt in the budget's fixed-point unit: a millionth of an
// attempt, so a ratio of 0.2 deposits 200,000 units per request.
const token = 1_000_000

// Window is how many seconds of the minimum rate the bucket holds.
const Window = 10

// Budget is one client's retry budget. Its zero value is not usable; Init
// sets it up. It is safe for concurrent use.
type Budget struct {
	tokens     atomic.Int64 // units; may pass capacity between withdrawals
	perRequest int64        // units each request adds
	perSecond  float64      // units time adds per second
	capacity   int64

	mu   sync.Mutex
	last time.Time // when time was last credited; zero before the first withdrawal
}

// Init sets the budget to earn ratio of an attempt per request and
// perSecond attempts a second, and fills the bucket: Window seconds of
// perSecond, and room for one attempt at least.
func (b *Budget) Init(ratio, perSecond float64) {
	b.perRequest = max(int64(ratio*token), 1)
	b.perSecond = perSecond * token
	b.capacity = max(int64(Window*perSecond*token), token)
	b.tokens.Store(b.capacity)
}

// Deposit credits one request.
func (b *Budget) Deposit() {
	if b.tokens.Load() < b.capacity {
		b.tokens.Add(b.perRequest)
	}
}

// Withdraw takes one extra attempt's token, reporting whether there was
// one.
func (b *Budget) Withdraw() bool {
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

// Refund gives back the token of an attempt that was not sent.
func (b *Budget) Refund() {
	b.tokens.Add(token)
}
