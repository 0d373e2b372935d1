// Package discovery keeps an lb.Pool's endpoints in step with a source of
// truth: DNS (A/AAAA or SRV), a JSON file, a fixed list, several of them
// together (Union), or any Resolver.
//
// Settings are plain structs whose zero value means every default
// (Config, DNSConfig), as in lb; there are no functional options.
//
// # Model
//
// A Resolver answers with the whole set of endpoints; a Runner (Start)
// calls it on a schedule from a goroutine of its own and applies each good
// answer with one Pool.Set. Endpoints left out drain: no new picks, and
// leases already in flight end normally. Pick never waits for discovery.
//
// The schedule is data (Config). For the first StartupFor (5 minutes) the
// Runner resolves every StartupEvery (5 s), so a fleet that starts together
// finds itself quickly; afterwards every Every (30 s). A failed resolve is
// retried after RetryAfter (1 s), doubling with each failure in a row up to
// MaxRetryAfter (1 minute). Each delay loses up to Jitter (20%) at random,
// so clients do not resolve in lockstep and an interval stays an upper
// bound. Each resolve has a Timeout (10 s).
//
// ResolveNow asks for a resolve at once; requests made while one runs fold
// into exactly one rerun, never dropped (httplb issue 84 is the bug this
// avoids). Each request made while the Runner is idle starts a resolve, so
// a caller that asks on every failed request should limit its own rate. A
// Resolver that is also a Watcher (File, an etcd watch) has its Watch run
// beside the schedule, and each change it reports is a ResolveNow; a failed
// Watch is restarted after the error backoff while polling goes on.
//
// A failed resolve, an empty answer (unless Config.AllowEmpty) and a set
// that Pool.Set rejects all keep the last good set. WaitForReady blocks
// until the first non-empty set is in the pool; Status reports the phase,
// the last attempt, success and error, the failures in a row, the set's
// size and the next attempt. Events delivers the same story as it
// happens: each failed resolve, each failed Watch, and the success that
// ends a run of failures, never making the Runner wait for its reader
// (past EventBuffer unread events it drops them and counts them in the
// next). The endpoints a resolve adds or removes are the pool's events
// (lb.Pool.Subscribe).
//
// Errors wrap ErrConfig (bad configuration, at construction), ErrResolve
// (a failed resolve, in Status.LastError) or ErrClosed.
//
// # Zones
//
// An endpoint's zone (lb.Endpoint.Zone, for lb.Config.Zones) comes with it
// from its source: a File entry's "zone", or, as DNS records carry none,
// DNSConfig.Zone, which a DNS stamps on all it finds; one name per zone,
// their resolvers joined by a Union, makes one zone-aware set.
// LocalityFromEnv reads the client's own zone and index in its fleet from
// the environment (NANOLB_ZONE, NANOLB_CLIENT_INDEX).
//
// # Why these defaults
//
//   - A start-up phase of 5 minutes at 5 s, and a first retry after 1 s,
//     as cets_discovery does: a fleet that starts together finds itself in
//     seconds.
//   - Every 30 s afterwards. httplb waits a fixed 5-minute TTL, which
//     leaves clients on a stale set for minutes after a scale-up; grpc-go
//     never polls, re-resolving on disconnects at most every 30 s (grpc-go
//     issues 1663, 2279, 6604). 30 s matches that floor and a common DNS
//     TTL, and one query per 30 s per client is cheap.
//   - Retries doubling to 1 minute, so a struggling backend is not
//     hammered (httplb has no backoff: it waits the full TTL).
//   - Jitter takes up to 20% off each delay and never adds, so fleets do
//     not re-resolve in lockstep and each interval stays an upper bound.
//   - A 10 s timeout per resolve: a hanging backend delays only the
//     Runner, which retries it with backoff.
//   - An empty answer keeps the last good set: grpc-go and httplb both
//     learned that one is more often a glitch than a drained service.
package discovery
