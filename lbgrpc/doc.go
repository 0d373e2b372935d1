// Package lbgrpc makes nanolb's policies and passive health gRPC balancers.
//
// Importing the package registers one grpc-go balancer per lb policy, named
// by Name: nanolb_p2c, nanolb_round_robin, nanolb_least_loaded,
// nanolb_weighted_round_robin, nanolb_peak_ewma, nanolb_random,
// nanolb_consistent_hash and nanolb_shard. A ClientConn selects one in its
// service config, with an optional Config object whose fields are
// lb.Config's (durations as "1.5s"; a bad or unknown field fails the dial
// with an error wrapping lb.ErrConfig):
//
//	{"loadBalancingConfig": [{"nanolb_p2c": {"ejectAfter": 3, "ejectFor": "2s"}}]}
//
// Options: a balancer's settings come from the service config (Config);
// what a service config cannot carry (a Classifier, a pool hook, the
// client's zone and index in its fleet) is given to NewBuilder as
// functional options (Option, a func applied to the
// builder); what works above the balancer, on each RPC of a ClientConn
// (ThrottleInterceptor, Hedger), is an interceptor from a constructor of
// its own, NewHedger's settings a struct (HedgeOptions) whose zero fields
// mean their defaults.
// The module is its own, on grpc-go v1.84, so gRPC stays out of
// the core's go.mod.
//
// # Model
//
// Each balancer is built as grpc-go builds its own round_robin and
// least_request: endpointsharding keeps one pick_first child per resolver
// endpoint (of the subset, with one; see Subsets and zones). The balancer keeps one lb.Pool whose members are the endpoints
// whose child is READY (Pool.Set, so health survives membership changes)
// and publishes a picker that asks the pool for a lease and hands the RPC
// to that endpoint's child. A pick takes no lock, never blocks and
// allocates nothing.
//
// Each pick's lease ends in the PickResult's Done, which gRPC calls once
// when the RPC ends; for a stream, when the stream ends, so a long stream
// holds its lease, and counts as in flight, for its whole life. A
// Classifier turns the RPC's DoneInfo into the lease's outcome; the default,
// Classify, counts Unavailable and DeadlineExceeded as failures, cancelled
// RPCs and RPCs that sent nothing as neutral, and every other ending as a
// success; whatever a Classifier says, an RPC whose caller cancelled its
// context is neutral. Consecutive failures, or a share of failed RPCs far
// above its peers' (outlier detection), eject an endpoint for a cooldown,
// and one probe RPC then decides whether it comes back, as lb documents.
//
// An endpoint whose connection breaks leaves the pool and comes back with
// no history when it is READY again: connection health is gRPC's, request
// health is nanolb's. For every policy but nanolb_shard the pool is the
// READY endpoints alone, so a broken connection moves that endpoint's
// share, and nanolb_consistent_hash its keys, to the others until it is
// back. A changed service config starts a new pool.
//
// Weighted round robin follows the weights a resolver sets with
// WithWeight, or the load the endpoints report (see Load reports). The
// zones a resolver sets with WithZone become the pool's endpoints' zones
// (lb.Endpoint.Zone), for zone-aware routing (see Subsets and zones).
//
// # Keys
//
// nanolb_consistent_hash and nanolb_shard route an RPC by the key
// WithHashKey puts in its context; an RPC without a key goes to a random
// endpoint. nanolb_consistent_hash sends a key to one endpoint while
// membership and load allow (lb.ConsistentHash).
//
// nanolb_shard routes a key strictly to its shard, never elsewhere
// (lb.Shard). Its pool has a shard layout (lb.Config.Shards): every
// endpoint the resolver names, in lb's address order, connected or not.
// While a shard is ejected its keys fail with Unavailable. A shard whose
// connection is down is empty: its keys fail with Unavailable (a
// wait-for-ready RPC waits for it) and no other key moves; a shard still
// connecting, at start or after a resolver update, holds its keys until it
// is READY or fails. The layout follows the resolver's list, not
// connectivity: a changed set of endpoints is a new layout, and a new pool
// (endpoints start with no history), with the keys jump consistent hashing
// moves for it; a reordered list changes nothing.
//
// # Peak EWMA after a failure
//
// nanolb_peak_ewma takes an endpoint back soon after one failure once it
// recovers. A failed RPC (Unavailable or DeadlineExceeded by default:
// whatever the Classifier calls a failure) makes the endpoint weigh as if
// its latency were at least 1 s while its failure streak lasts (see
// lb.PeakEWMA), so it gets almost no RPCs; but one comparison in 64 that
// draws it is a trial, which weighs it at its latency average, and the
// first RPC it serves well ends the streak and the penalty. It is back
// after about 32 of the RPCs its share would have brought it, under a
// second once that share is 40 RPCs a second or more, without being
// ejected or probed. Each further failure in a row halves the trials, so
// an endpoint that keeps failing gets ever fewer RPCs until ejectAfter
// ejects it; ewmaDecay plays no part in the penalty.
//
// # Concurrency limit
//
// Config.MaxConcurrency caps the RPCs in flight on each endpoint (a stream
// holds its place until it ends). An RPC that finds every endpoint at the
// cap fails at once with codes.Unavailable, and so does a wait-for-ready
// RPC: a picker must not block, and a freed place publishes no new picker,
// so an RPC held for one could wait for ever. This is what grpc-go's own
// xDS circuit breaker (max_requests) does. grpc-go treats a picker's
// status error as a drop: neither transparent retry nor a service config
// retry policy retries it, so the caller sees Unavailable at once. Callers
// who would rather queue should use lb's PickWait outside gRPC (lbhttp's
// Transport.Wait does so for HTTP).
//
// # Outlier detection and slow start
//
// lb's outlier detection is on unless the config's "outlier" object says
// {"off": true}: at a failed RPC, at most once an interval (1 s), it
// ejects an endpoint whose success rate over the interval is far below
// its peers' (gRFC A50's success-rate rule) or whose failures reach a
// percentage of its RPCs (the failure-percentage rule). Its fields set
// the rules' thresholds (OutlierConfig). A pool of fewer endpoints than
// minHosts (5) with enough RPCs judges nobody.
//
// The "slowStart" object (SlowStartConfig; off unless its window is set)
// ramps the share of RPCs of an endpoint that joins the pool or is
// reinstated. Every endpoint joins its pool when its connection becomes
// READY, after the pool was made, so every endpoint ramps: at the first
// service config, and again after a changed one (a new pool), all of them
// together, which moves no RPCs among them; an endpoint the resolver adds
// later, or one whose broken connection is READY again, as a restarted
// backend's is, ramps against peers already at their full share. A keyed
// pick (WithHashKey) ignores the ramp.
//
// # Subsets and zones
//
// A client of a large fleet connects to a few of the backends, and keeps
// its RPCs in its own zone, with the service config's "subset" and
// "zones" objects and the builder's locality: the client's index among
// the fleet's clients and its zone. Here p2c_fleet is a NewBuilder's:
//
//	{"loadBalancingConfig": [{"p2c_fleet": {
//		"subset": {"size": 30, "rule": "ring"}, "zones": {"minEndpoints": 6}}}]}
//
// NewBuilder takes the locality from WithClientIndex and WithLocalZone,
// or from the environment with WithLocalityFromEnv
// (discovery.LocalityFromEnv: NANOLB_ZONE, and NANOLB_CLIENT_INDEX or a
// StatefulSet pod's ordinal), read once; an option wins over the
// environment whichever comes first. WithClientShares gives the share of
// the fleet's clients in each zone. The balancers registered at import
// have no locality: register a NewBuilder of one's own to give one.
//
// "subset" chooses lb.Subset's stable subset of the resolver's endpoints
// for the client index, by its rule ("ring", the default,
// "deterministic" or "rendezvous"; docs/subsetting.md compares them), over
// the endpoints' pool addresses, and the balancer connects to those
// alone: the others get no child and no SubConn, as gRFC A68's
// random_subsetting filters the endpoints before its child policy. The
// subset follows the resolver's list, never connectivity, so a flapping
// connection moves nothing: a member whose connection breaks leaves the
// pool, as any endpoint does, and is not replaced; a resolver update
// moves the subset as the rule does for the new list. The pool holds the
// READY members of the subset, with lb.Config.Subset off, so lb's
// widening (endpoints from outside the subset standing in while more of
// it is ejected than maxEjectedPercent allows) does not happen: those
// endpoints have no connection, and an ejected member's RPCs go to the
// rest of the subset. Without a client index, a builder draws one at
// random, once, so each process still has a subset of its own (A68's
// balance); ring and deterministic balance the fleet better with dense
// indexes 0..N-1. A changed "subset" changes the connections, not the
// pool. nanolb_shard takes no subset: every shard must stay reachable.
//
// Zone-aware routing (lb.Zones) is on in every pool of a builder with a
// local zone, over the zones a resolver sets with WithZone: an RPC stays
// in the local zone while that zone has its clients' share of the
// endpoints up. "zones" sets lb.Zones's minEndpoints (6 by default) and
// forceLocal; without a local zone it is ignored, so one service config
// serves clients that know their zone and clients that do not. The pool
// routes among its own members, the READY endpoints of the subset if there
// is one; with a local zone the subset takes each zone's share of its
// size (lb.Subset.Of), so every client's subset has the fleet's zone mix,
// and routing is zone-blind while fewer than minEndpoints members are up:
// set minEndpoints no larger than the subset. Through WithPoolHook, Pool.ZoneStatus shows the routing;
// Pool.SubsetStatus shows subsetting off, the subset being the balancer's.
//
// # Load reports
//
// nanolb_weighted_round_robin can weigh endpoints by the load they report
// through ORCA (gRFC A51), by gRFC A58's rule (lb.LoadWeights): turn it on
// with the config's "loadWeights" object (LoadWeightsConfig), whose
// fields have A58's weighted_round_robin names:
//
//	{"loadBalancingConfig": [{"nanolb_weighted_round_robin": {"loadWeights": {
//		"enabled": true, "blackoutPeriod": "10s", "weightExpirationPeriod": "3m",
//		"weightUpdatePeriod": "1s", "errorUtilizationPenalty": 1.0}}}]}
//
// Reports come per call by default: the server passes
// orca.CallMetricsServerOption to grpc.NewServer and records its load in
// each RPC's orca.CallMetricsRecorderFromContext (a ServerMetricsProvider
// given to the option fills what the handler does not set); the load
// travels in the RPC's trailer, and the RPC's Done hands it to its lease
// (lb.Lease.ReportLoad) before ending it. An RPC without a report costs
// nothing more. With "enableOobLoadReport": true they come out of band
// instead, and per-call reports are ignored (A58): the server calls
// orca.Register, and the balancer opens one ORCA stream on each READY
// endpoint's connection asking for a report every "oobReportingPeriod"
// (10 s by default; grpc-go's orca service sends at most every 30 s
// unless its ServiceOptions.MinReportingInterval says otherwise).
// Out-of-band reports suit streams and endpoints with few RPCs; per-call
// ones need no stream and follow the load RPC by RPC. Both use the
// report's cpu_utilization, mem_utilization, application_utilization,
// rps_fractional and eps (lb.Load's fields). Importing lbgrpc imports
// google.golang.org/grpc/orca, which makes every ClientConn of the
// process parse the ORCA trailer of the RPCs that carry one.
//
// # Throttling
//
// ThrottleInterceptor is the client-side adaptive throttling of the Google
// SRE book ("Handling Overload") as a unary client interceptor: over the
// last two minutes it counts the RPCs asked of it and those the servers
// accepted, and refuses an RPC with probability max(0, (requests − K ×
// accepts) ÷ (requests + 1)). So while servers accept fewer than one RPC
// in K, what is sent falls to about K times what they accept. An RPC that
// ends with ResourceExhausted or Unavailable (the servers' overload, or
// none reachable) is a rejection; one the caller cancelled counts for
// nothing; any other ending, an application error or a deadline among
// them, is an accept: a server took the RPC. A refused RPC is not sent and
// fails at once with status Unavailable, wrapping ErrThrottled: Unavailable
// is what gRPC calls a condition to retry later with backoff, as lbgrpc's
// concurrency limit reports too. Refused RPCs count as requests, so a
// client whose servers accept nothing sends almost nothing until they do.
// The interceptor reads the clock once per RPC; streams are not throttled.
// NewThrottle makes a Throttle whose Stats reads the counts, for
// lbprom.NewThrottleCollector.
//
// # Hedging
//
// A Hedger's Interceptor hedges the unary RPCs of the methods listed in
// HedgeOptions.Methods, as gRFC A6's hedging policy describes and grpc-go
// does not implement: an RPC that has not answered within the hedge delay
// is sent again, as a hedge, to an endpoint it has not tried, and again
// after each further delay, up to MaxAttempts attempts in all (2 by
// default, at most 5), all of which may be in flight at once. The delay is
// HedgeOptions.Delay, or, with ExtraLoad, the latency percentile that costs
// about that share of extra RPCs (0.01: the 99th percentile of the method's
// recent first attempts; Delay until enough are seen). gRPC has no
// idempotency flag, so which methods may run twice is the caller's to say;
// methods not listed pass straight through, at the cost of a map lookup
// (two with a service prefix listed). A hedged method's reply must be a
// protocol buffers message (as generated code's is): each attempt has its
// own.
//
// The first attempt to succeed, or to fail with a code not in NonFatalCodes
// (Unavailable by default), answers the RPC; the attempts still in flight
// are cancelled, and their leases end as cancelled, never as failures:
// losing a race says nothing of an endpoint. An attempt that fails with a
// non-fatal code leaves the others to answer and sends the next attempt at
// once (A6), to an endpoint not yet tried; when none is left to answer, its
// failure is the RPC's. Every attempt past the first takes a token from a
// budget of extra attempts, lbhttp's retry budget (RetryRatio of the RPCs,
// 20% by default, and RetryMinPerSecond, 10, a bucket of ten seconds of it)
// where A6 has its retry throttling, so in an outage where every endpoint
// is slow hedges add at most the budget's share. Stats counts hedges sent,
// hedges that won and hedges the budget refused; lbprom.NewHedgeCollector
// exports them.
//
// The Interceptor tells the picker which endpoints an RPC has tried through
// each attempt's context, and the picker says which endpoint it leased, so
// the exclusion works with the ClientConn balanced by a nanolb balancer;
// with any other balancer the hedges go where it sends them. A pick
// excludes the endpoints earlier attempts had leased when it was made
// (lb.Pool.PickExcept): an endpoint not tried while one is up, else any. An
// RPC routed by its key (WithHashKey) hedges on another endpoint under
// nanolb_consistent_hash, and on its shard, the only place its key may go,
// under nanolb_shard.
//
// Each attempt is an RPC of its own to gRPC: interceptors after the Hedger
// on the chain, stats handlers and a service config's retry policy see each
// one. The call options that write to the caller's variables (grpc.Peer,
// grpc.Header, grpc.Trailer) get the answering attempt's, and grpc.OnFinish
// runs once, with the RPC's error. When a hedge answers, the interceptor
// returns once the first attempt, cancelled, has returned, since that
// attempt writes into the caller's reply. Streams are not hedged.
//
// # Events
//
// WithPoolHook hands each pool a balancer makes to the caller, who can
// subscribe to its endpoint events (ejections, probes, reinstatements,
// saturation) with lb.Pool.Subscribe, or read its Endpoints and Stats. A
// balancer makes a pool at its first service config and a new one whenever
// the config changes, and for nanolb_shard whenever the resolver's set of
// endpoints (the shard layout) changes. The hook's stop runs once when its
// pool is retired, by a new pool or by the ClientConn's close: the place
// to close a subscription. Hook and stop run from gRPC's serialised
// balancer calls, never from a pick: they may take a lock, but an RPC's
// configuration waits for them.
//
// # Resolver
//
// NewResolverBuilder makes a gRPC resolver of lb/discovery. Each
// ClientConn dialled as "<scheme>:///<anything>" runs a discovery Runner
// of its own over the given Resolver and schedule (the rest of the target
// is ignored: the Resolver decides the endpoints), and each endpoint set
// the Runner applies becomes one resolver.Endpoint per lb.Endpoint, its
// weight set with WithWeight and its zone with WithZone, in one
// ClientConn.UpdateState. gRPC's
// ResolveNow, sent when a connection fails, is the Runner's; closing the
// ClientConn closes the Runner. Until the first set is applied, each failed
// resolve goes to ClientConn.ReportError, so RPCs fail with its reason
// instead of waiting; afterwards a failure keeps the last set, as the
// Runner does, and shows in no RPC. The resolver sets endpoints, not a
// policy: name a balancer in the service config too. A scheme gRPC can
// match is a lower-case ASCII letter, then lower-case letters, digits,
// '+', '-' or '.'.
package lbgrpc
