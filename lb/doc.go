// Package lb picks the endpoint for each outgoing request in nanoseconds,
// keeps failing endpoints out, and lets them back in one probe at a time.
//
// # Model
//
// A Pool holds endpoints (addresses) and a Policy. Pick returns a Lease on
// one endpoint; the caller sends its request there and ends the lease with
// Done, passing the request's outcome. Pick adds one to the endpoint's
// in-flight count and Done takes it away, exactly once per lease.
//
// Outcomes drive passive health. A success (nil) ends the endpoint's failure
// streak. A failure extends it, and at Config.EjectAfter consecutive failures
// the endpoint is ejected: no Pick chooses it for a cooldown of
// Config.EjectFor, doubled for each ejection in a row up to
// Config.MaxEjectFor, less up to 10% of jitter. context.Canceled is neither:
// the caller gave up. While its streak lasts, an endpoint looks loaded to
// the load-aware policies (its in-flight count doubled per failure, but for
// one comparison in 8), so a fast-failing endpoint does not draw traffic
// before its ejection. Config.MaxEjectedPercent (50 by default) caps how
// many endpoints may be ejected at once, so a wide outage never empties the
// pool by ejection, and below 100 a pool that is not empty always serves: if
// nothing is up, Pick leases the endpoint due first (panic mode).
//
// When a cooldown ends, exactly one Pick is leased the endpoint as a probe,
// won by a compare-and-swap on the endpoint's health word that also starts
// the probe's window (Config.ProbeTimeout). Every concurrent Pick goes on to
// the healthy endpoints. The probe's success reinstates the endpoint; its
// failure ejects it again for twice as long; a probe that never reports lets
// the next Pick probe again once its window ends.
//
// Pools change membership at run time with Add, Remove and Set (the whole
// membership at once, as discovery needs). None resets another endpoint's
// counters or health, and once Remove or Set returns no Pick hands a removed
// endpoint out. A Registry holds named pools, created once;
// Registry.All and Registry.Snapshot look at all of them at once.
//
// # Limits, waiting and events
//
// Config.MaxConcurrency caps each endpoint's leases in flight; Pick then
// returns ErrSaturated when every endpoint that is up is at its limit, and
// PickWait waits for a lease in a first-in-first-out queue instead. Subscribe
// delivers what happened (ejections, probes, reinstatements, membership,
// saturation) in batches, without ever making the pool wait.
//
// # Shards and scatter-gather
//
// A Shard pool routes each key of PickKey to exactly one endpoint, its
// shard, and returns ErrShardDown while that shard is out rather than
// moving the key (ConsistentHash moves it). PickAll leases every endpoint
// that is up at once, and Scatter calls a function on each concurrently,
// ending every lease with its call's outcome.
//
// # Cost
//
// Pick and Done take no lock and allocate nothing: endpoints sit in
// generated, cache-line-padded tables behind one atomic pointer. They read
// no clock either, with two exceptions: PeakEWMA, which times a sample of
// its requests by design (one lease in 8, every lease of an endpoint not
// yet measured, and every failure at Done: a monotonic read at each end of
// a timed lease), and a Pick that finds an ejected endpoint may be due,
// which a timer, not the hot path, signals.
//
// # Code layout
//
// Each policy's algorithm is ordinary Go in the file named for it
// (p2c.go, roundrobin.go, leastloaded.go, weightedroundrobin.go,
// peakewma.go, random.go, consistenthash.go, shard.go), as methods on its
// table type; scatter.go holds PickAll and Scatter. The *_gen.go files are generated from the table in gen/policies.go:
// the padded slot and table types, the Policy constants and the dispatch.
package lb
