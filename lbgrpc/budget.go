package lbgrpc

import (
	"sync"
	"sync/atomic"
	"time"
)

// The hedge budget is lbhttp's retry budget (Finagle's RetryBudget): each
// hedged RPC earns RetryRatio of an attempt, time earns RetryMinPerSecond
// attempts a second, and the bucket holds budgetWindow seconds of the
// latter. Every attempt past an RPC's first takes one.

// token is one attempt in the budget's fixed-point unit: a millionth of
// an attempt, so a ratio of 0.2 deposits 200,000 units per RPC.
const token = 1_000_000

// budgetWindow is how many seconds of the minimum rate the bucket holds.
const budgetWindow = 10

// budget is a bucket of tokens that each RPC fills by its ratio and time
// fills at perSecond, emptied by one token per extra attempt and capped at
// budgetWindow seconds of perSecond.
//
// An RPC only adds to tokens (one atomic add, no clock); an extra attempt
// takes the lock, credits the time since the last one, applies the cap
// and takes its token. So the cap holds whenever it matters: when an
// attempt asks.
type budget struct {
	tokens     atomic.Int64 // units; may pass capacity between withdrawals
	perRequest int64        // units each RPC adds
	perSecond  float64      // units time adds per second
	capacity   int64

	mu   sync.Mutex
	last time.Time // when time was last credited; zero before the first withdrawal
}

func (b *budget) init(ratio, perSecond float64) {
	b.perRequest = max(int64(ratio*token), 1)
	b.perSecond = perSecond * token
	b.capacity = max(int64(budgetWindow*perSecond*token), token) // room for one attempt at least
	b.tokens.Store(b.capacity)
}

// deposit credits one RPC.
func (b *budget) deposit() {
	if b.tokens.Load() < b.capacity {
		b.tokens.Add(b.perRequest)
	}
}

// withdraw takes one attempt's token, reporting whether there was one.
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
