// Package lb picks the endpoint for each outgoing request in nanoseconds,
// keeps failing endpoints out, and lets them back in one probe at a time.
//
// # Pools and leases
//
// A Pool holds endpoints (addresses, each with a weight) and a Policy. Pick
// returns a Lease on one endpoint; the caller sends its request there and
// ends the lease with Done, passing the request's outcome. Pick adds one to
// the endpoint's in-flight count and Done takes it away, exactly once: Done
// clears the lease, so a second Done on the same variable does nothing.
// Ending two copies of one lease is a misuse, like copying a sync.Mutex. A
// lease outlives its endpoint's removal and its pool's deletion.
//
// The policies differ only in how they choose among the endpoints that are
// up; health, probes, membership, admission and events below are the same
// for all of them.
//
// # Outcomes and ejection
//
// Done(nil) is a success and ends the endpoint's failure streak. Any other
// error, context.DeadlineExceeded included, is a failure and extends it; an
// error wrapping context.Canceled is neither (the caller gave up). At
// Config.EjectAfter failures in a row the endpoint is ejected (a streak
// ending in a timeout only once the endpoint has also gone
// Config.TimeoutGrace without a success: busy is not dead): no Pick
// chooses it for a cooldown of Config.EjectFor × 2^(k−1), capped at
// Config.MaxEjectFor, where k counts its ejections in a row without a
// success, less up to 10% of jitter (Config.NoJitter turns it off) so that
// clients that ejected together do not probe in lockstep. Outcomes of
// ordinary leases on an endpoint already out change nothing: only its probe
// decides.
//
// While its streak lasts, an endpoint looks loaded to the load-aware
// policies (P2C, LeastLoaded, PeakEWMA, ConsistentHash's load bound): a
// streak of s failures makes its load (in flight + 1)·2^s − 1, so a failing
// endpoint that answers fast does not draw traffic before its ejection. One
// comparison in 8 ignores the streak, so an endpoint stuck below EjectAfter
// still gets a trickle that either ends the streak or ejects it. PeakEWMA
// also weighs an endpoint with a streak at a latency of at least 1 s, with
// a trial share of its own that halves per failure in a row. One success
// ends the penalty.
//
// # Outlier detection
//
// Failures scattered among successes never make a streak: a backend
// failing a fifth of its requests at random rarely fails five in a row.
// Config.Outlier (on by default) ejects it by rate, with gRFC A50's rules:
// once a second, at a failure, each endpoint's requests and failures since
// the last evaluation are judged; among the endpoints up with 100 requests,
// if there are 5, one whose success rate is below the mean less 1.9
// standard deviations, having failed 5 times or more, is ejected (success
// rate); among those with 50 requests, one failing 85% or more is ejected
// (failure percentage). The cap, probe and events are shared with
// consecutive failures; the cooldown is A50's, 30 s times the outlier
// ejections in a row (up to 5 minutes), which fall back as intervals are
// judged clean, so a lucky probe does not readmit a gray backend for long. EventEjected and EndpointStatus carry
// the reason, rate and threshold. Requests are counted by the add that ends
// a lease (the lease word keeps in flight and ended together), failures on
// the failure path: a successful Done pays nothing, and a pool without
// failures never evaluates.
//
// # Slow start
//
// Config.SlowStart (off by default) ramps an endpoint that joins a pool a
// second or more after its first endpoint, or is reinstated, from a tenth
// of its share to all of it over a window,
// as Envoy's slow start: Pick keeps the policy's choice of a ramping
// endpoint with probability max(MinWeightPercent/100, (t/Window)^(1/Aggression)),
// else the policy chooses again. Factors are stepped off the hot path; a
// Pick's fast path tests the same word of the pool it tests for due probes.
//
// # Probes
//
// When a cooldown ends, exactly one Pick is leased the endpoint as a probe
// (Lease.Probe is true), won by a compare-and-swap on the endpoint's health
// word that also starts the probe's window (Config.ProbeTimeout). A due
// probe is served before normal selection; every concurrent Pick goes on to
// the endpoints that are up. The probe's success reinstates the endpoint;
// its failure ejects it again with the next cooldown; a cancelled probe
// hands the endpoint to the next Pick; a probe that never reports lets the
// next Pick probe again once its window ends.
//
// # The ejection cap and panic mode
//
// Config.MaxEjectedPercent (50 by default) caps the endpoints ejected at
// once at ceil(n × percent / 100): a pool of five with two dead endpoints
// ejects both, and when every endpoint fails (a fault on the client's side
// or further down) at least half keep serving, as Envoy's panic threshold
// and Finagle's panic mode do. An ejection past the cap is not made (an
// EventEjected with Refused says so) and the endpoint keeps serving with
// its streak. Below 100 a pool that is not empty never answers
// ErrNoEndpoint: if nothing is up, Pick leases the endpoint whose cooldown
// ends first, as an early probe. ErrNoEndpoint remains for an empty pool,
// and at 100 for a pool with every endpoint out and none due.
//
// # Membership and registries
//
// Add, Remove and Set (the whole membership in one publish, as discovery
// needs) change a pool at run time and never block a Pick. Every endpoint
// that stays keeps its counters, health and place; a changed weight applies
// in place. Once Remove or Set returns no Pick hands a removed endpoint
// out, and its leases drain.
//
// A Registry holds named pools. Ensure is create-once: an existing pool is
// returned untouched. Delete forgets and closes a pool; leases on it stay
// safe. Get finds a pool by name without a lock, so a per-request Get then
// Pick is cheap; the registry has no picks of its own. EnsureWeighted takes
// weights, All and Snapshot cover every pool, and Subscribe every pool's
// events.
//
// # Fleets: subsets and zones
//
// Config.Subset keeps a stable subset of the endpoints a pool is given:
// each client of a large fleet connects to Subset.Size backends, chosen by
// its index in the fleet so that the fleet spreads its connections evenly
// (the ring rule by default; the SRE book's deterministic rule, or
// rendezvous hashing). Membership changes move as few subset entries as
// the rule allows; health works within the subset, and when the ejected
// reach the cap on it the pool widens by as many endpoints from outside,
// until the subset recovers. SubsetStatus reports the sizes.
//
// Config.Zones routes picks by Endpoint.Zone with Envoy's zone-aware rule:
// all local while the local zone has at least its clients' share of the
// endpoints up, else that share of them and the rest to the zones with
// room to spare; zone-blind below Zones.MinEndpoints up, in panic mode
// and for keyed picks. Each zone has its own table of the pool's policy,
// so a zoned Pick costs one random draw more. ZoneStatus reports the route.
// docs/subsetting.md has the rules and a fleet simulation.
//
// # Weights from reported load
//
// Config.LoadWeights makes a WeightedRoundRobin pool weigh each endpoint
// by what it reports about itself (Lease.ReportLoad per answer,
// Pool.ReportLoad out of band; lbhttp reads the endpoint-load-metrics
// header, lbgrpc ORCA), by gRFC A58's rule: RPS / (utilization + EPS/RPS ×
// penalty), counted after a blackout and until an expiry, the mean for
// endpoints without one, and the static weights until two endpoints have
// one. A timer recomputes the weights off the hot path and publishes a new
// table with one atomic store; Pick is the static policy's.
// docs/design-load-weights.md has the rule and a run.
//
// # Admission: limits and waiting
//
// Config.MaxConcurrency caps each endpoint's leases in flight (0: unlimited,
// and free). Pick never leases an endpoint at its limit, probes included;
// when every endpoint that is up is at its limit it returns ErrSaturated.
// PickWait waits instead, in one first-in-first-out queue per pool, until a
// slot frees, an endpoint is added or reinstated, or a probe falls due. A
// freed slot goes straight to the oldest waiter, and new arrivals never
// overtake it, while the queue drains: once it has not emptied for
// Config.WaitInterval, the newest waiter is served first and those past
// Config.WaitTarget fail with ErrShed (controlled delay with adaptive
// LIFO, as "Fail at Scale"; Config.NoShed keeps it FIFO); a waiter whose context ends leaves the queue, and a grant
// that races its cancellation passes to the next waiter. A failed Done
// counts its failure before the queue is served, so a waiter is not handed
// the endpoint that just failed. Config.MaxWaiters bounds the queue
// (ErrQueueFull); a wait without a deadline ends after Config.MaxWait.
// Stats counts waiters, grants, timeouts, shed waits, refusals and
// saturations.
//
// Config.AdaptiveConcurrency gives each endpoint its own limit, between
// Config.MinConcurrency (3) and MaxConcurrency (1,000), that follows its
// latency: Envoy's gradient rule, limit × clamp(minRTT × 1.25 / latency,
// 0.5, 2) plus √limit of headroom, every 100 ms off the hot path, with
// minRTT measured at the minimum when an endpoint joins and every minute,
// and a tenth off in an interval with a timeout; EndpointStatus.Limit shows
// it. Choose MaxConcurrency when you know each backend's capacity,
// AdaptiveConcurrency when you do not, and PickWait when callers can wait
// briefly rather than fail. A timeout is a failure that ejects only an
// endpoint that has also gone Config.TimeoutGrace (1 s) without a success:
// under overload a busy endpoint times some requests out and still answers
// others. Close
// (and Registry.Delete) fails waiters with ErrClosed for good, while Pick
// and leases go on.
//
// # Events
//
// Pool.Subscribe (or Registry.Subscribe: every pool, including later ones)
// delivers what happened in batches on a channel: endpoints added and
// removed, ejections (with Refused when the cap said no), probes leased,
// timed out and failed, reinstatements, and a pool's saturation and its
// end (see EventKind), each with the pool's name and the time, from the
// moment of subscribing. Each
// subscriber gets at most SubscribeOptions.Chunk events every
// SubscribeOptions.Interval of its own schedule. A slow subscriber loses
// only its own events, counted in its next Batch (Dropped); nobody waits
// for it. Events of one endpoint arrive in the order they happened. With
// nobody subscribed, a transition tests one pointer.
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
// Pick and Done take no lock and allocate nothing (asserted with
// testing.AllocsPerRun on every policy and path): endpoints sit in
// generated, cache-line-padded tables behind one atomic pointer, copied on
// write by membership changes. They read no clock either, with two
// exceptions: PeakEWMA, which times a sample of its requests by design (one
// lease in 8, every lease of an endpoint not yet measured, and every
// failure at Done), and a Pick that finds an ejected endpoint may be due,
// which a timer, not the hot path, signals. Features a pool does not use
// cost it nothing: a concurrency limit and per-lease policy state hang off
// one flag Pick tests and one mark Done tests, and events off one pointer
// that only transitions read. Outlier detection reads the clock at a
// failure, not at a success; an adaptive limit times a sample of leases.
//
// # Settings
//
// Settings are plain structs whose zero value means every default: Config
// for a pool, SubscribeOptions for a subscription, ScatterOptions for a
// Scatter. A negative, out-of-range or contradictory value is an error
// wrapping ErrConfig, and a rejected call changes nothing.
//
// # Code layout
//
// Each policy's algorithm is ordinary Go in the file named for it (p2c.go,
// roundrobin.go, leastloaded.go, weightedroundrobin.go, peakewma.go,
// random.go, consistenthash.go, shard.go), as methods on its table type.
// The *_gen.go files are generated from the table in gen/policies.go: the
// padded slot and table types, the Policy constants and the dispatch.
// Mechanisms that can be understood alone (the wait queue, the event ring,
// key hashes, the Maglev builder, per-processor counters) live in packages
// under internal/.
package lb
