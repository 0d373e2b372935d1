package lb

import "sync/atomic"

// core holds the fields every policy's slot starts with: the in-flight count
// and the health word, read and written by Pick and Done, then the address.
// Generated slot types embed it first and pad the rest of the cache line.
type core struct {
	inflight atomic.Int64
	health   atomic.Uint64
	addr     string
	weight   atomic.Uint32 // 1..MaxWeight; Set changes it in place
	index    atomic.Int32  // position in the pool's current view
}

// pickable reports whether normal selection may hand out this endpoint.
func (c *core) pickable() bool { return stateOf(c.health.Load()) == stateUp }

// bothUp is pickable for two endpoints with one branch: up is state 0.
func bothUp(a, b *core) bool { return (a.health.Load()|b.health.Load())&stateMask == stateUp }

// release takes one lease off the in-flight count. Under Done's contract
// the count cannot go below zero; a misuse that ends one lease twice (two
// copies of it) is put back at once, so the count never stays negative. A
// single atomic add, not a compare-and-swap loop, which would cost every
// Done to hide a misuse's instant.
func (c *core) release() {
	if c.inflight.Add(-1) < 0 {
		c.inflight.Add(1)
	}
}

// load is the endpoint's streakLoad, for an endpoint that is up.
func (c *core) load() int64 { return streakLoad(c.inflight.Load(), c.health.Load()) }
