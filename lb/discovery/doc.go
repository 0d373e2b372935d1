// Package discovery keeps an lb.Pool's endpoints in step with a source of
// truth: DNS (A/AAAA or SRV), a JSON file, a fixed list, or any Resolver.
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
// into exactly one rerun, never dropped. A Resolver that is also a Watcher
// (File, an etcd watch) has its Watch run beside the schedule, and each
// change it reports is a ResolveNow.
//
// A failed resolve, an empty answer (unless Config.AllowEmpty) and a set
// that Pool.Set rejects all keep the last good set. WaitForReady blocks
// until the first non-empty set is in the pool; Status reports the phase,
// the last attempt, success and error, the failures in a row, the set's
// size and the next attempt. Events delivers the same story as it
// happens: each failed resolve, each failed Watch, and the success that
// ends a run of failures, never making the Runner wait for its reader.
// The endpoints a resolve adds or removes are the pool's events
// (lb.Pool.Subscribe).
//
// Errors wrap ErrConfig (bad configuration, at construction), ErrResolve
// (a failed resolve, in Status.LastError) or ErrClosed.
package discovery
