// Package lbprom exports nanolb's pools to Prometheus: a Collector, for a
// prometheus.Registerer, that reports each pool and endpoint of an
// lb.Registry (NewCollector) or of one lb.Pool (NewPoolCollector), a
// ThrottleCollector that reports one client-side throttle
// (NewThrottleCollector), and a HedgeCollector that reports one hedger
// (NewHedgeCollector). It is a module of its own (client_golang v1.24),
// so the Prometheus client stays out of the core's go.mod.
//
// Settings are functional options (Option: WithSubscribeOptions,
// WithPools), passed to either pool constructor.
//
// # Two sources
//
// Gauges and the admission counters are read at scrape time from
// Pool.Endpoints and Pool.Stats, so they are exact at the moment of the
// scrape. Event counters (ejections, probes, reinstatements) are fed by an
// lb subscription that the collector consumes in a goroutine of its own;
// they count the events seen since the collector started, and trail the
// pool by up to one SubscribeOptions.Interval (100 ms by default). Close
// ends the subscription and the goroutine.
//
// # Metrics
//
// Labels: pool (the registry name), endpoint (the address), state,
// reason (success_rate or failure_percentage, lb.EjectReason's String),
// throttle (the name given to NewThrottleCollector), hedger (the name
// given to NewHedgeCollector).
//
//	nanolb_pool_info{pool,policy}                  1, with the pool's policy
//	nanolb_pool_endpoints{pool}                    endpoints in the pool
//	nanolb_pool_waiting{pool}                      PickWait callers queued now
//	nanolb_pool_wait_grants_total{pool}            leases handed to queued waiters
//	nanolb_pool_wait_timeouts_total{pool}          waits ended by their context or MaxWait
//	nanolb_pool_wait_queue_full_total{pool}        PickWait calls refused with ErrQueueFull
//	nanolb_pool_wait_shed_total{pool}              waits shed by a standing queue (ErrShed)
//	nanolb_pool_saturations_total{pool}            Picks that returned ErrSaturated
//	nanolb_pool_subset_endpoints{pool,kind}        a subsetting pool's given, members and extra endpoints
//	nanolb_pool_zone_routing{pool,local_zone}      1 while routing by zone, 0 while zone-blind
//	nanolb_pool_zone_pick_share{pool,zone}         each zone's share of the picks while routing by zone
//	nanolb_endpoint_in_flight{pool,endpoint}       leases not yet Done
//	nanolb_endpoint_state{pool,endpoint,state}     1 for the current state (up, ejected, probing), else 0
//	nanolb_endpoint_failure_streak{pool,endpoint}  consecutive failures now
//	nanolb_endpoint_consecutive_ejections{pool,endpoint}  ejections in a row without a success
//	nanolb_endpoint_weight{pool,endpoint}          the endpoint's weight
//	nanolb_endpoint_concurrency_limit{pool,endpoint}       its concurrency limit now (MaxConcurrency, or the adaptive limit); not emitted without one
//	nanolb_endpoint_load_weight{pool,endpoint}             its weight from reported load (lb.LoadWeights), or the others' mean; not emitted while none is in force
//	nanolb_endpoint_success_rate{pool,endpoint}            share of its requests that succeeded (0..1), last evaluated interval it had requests in; see Outlier detection
//	nanolb_endpoint_interval_requests{pool,endpoint}       its requests in the last evaluated interval; see Outlier detection
//	nanolb_endpoint_ejections_total{pool,endpoint}         ejections made, whatever the reason (after a failed probe too)
//	nanolb_endpoint_outlier_ejections_total{pool,endpoint,reason}  ejections made by outlier detection; see Outlier detection
//	nanolb_endpoint_ejections_refused_total{pool,endpoint} ejections the MaxEjectedPercent cap refused
//	nanolb_endpoint_probes_total{pool,endpoint}            probe leases handed out
//	nanolb_endpoint_probe_failures_total{pool,endpoint}    probes that failed
//	nanolb_endpoint_probe_timeouts_total{pool,endpoint}    probe windows that ended without an outcome
//	nanolb_endpoint_reinstatements_total{pool,endpoint}    probes that succeeded
//	nanolb_events_dropped_total                    events lost because the collector fell behind
//	nanolb_throttle_requests{throttle}             requests counted over the throttle's window, rejected ones included
//	nanolb_throttle_accepts{throttle}              requests the backends accepted over the window
//	nanolb_throttle_rejected_total{throttle}       requests the throttle rejected locally, never sent
//	nanolb_hedges_sent_total{hedger}               hedges sent: attempts started because those in flight had not answered within the hedge delay
//	nanolb_hedges_won_total{hedger}                requests (RPCs) a hedge answered first, with success
//	nanolb_hedges_refused_total{hedger}            hedges not sent because the retry budget was empty
//
// The core exposes no per-endpoint total of failed requests, only the
// current failure streak (nanolb_endpoint_failure_streak) and outlier
// detection's last interval, and the package invents no failure total.
// Dropped events are counted for the collector as a whole: a batch's drop
// count does not say which pool lost them.
//
// # Outlier detection
//
// lb's outlier detection (lb.Config.Outlier) judges each endpoint's
// requests over an interval, evaluated at a failure. The last evaluated
// interval is EndpointStatus.Requests and SuccessRate:
// nanolb_endpoint_interval_requests and nanolb_endpoint_success_rate. The
// rate is that of the last evaluated interval in which the endpoint had
// requests (1 before any), so an ejected endpoint, which gets no requests
// but its probes, keeps the rate that ejected it while its interval
// requests read 0.
//
// lb does not say whether a pool's outlier detection is on, so these two
// gauges and nanolb_endpoint_outlier_ejections_total are reported for a
// pool's endpoints from the first scrape that finds one of them with
// requests in an evaluated interval, and from then on for as long as the
// pool lives. Every evaluation has such an endpoint (the failure that runs
// it), and none runs with Outlier.Off, so a pool with Outlier.Off, or one
// with no failure yet an Interval or more after it was made, has none of
// these series. The counter counts
// the EventEjected events lb's cap did not refuse whose Event.Reason is
// lb.SuccessRate or lb.FailurePercentage, one series per reason label,
// starting at 0; nanolb_endpoint_ejections_total counts them too, and
// nanolb_endpoint_ejections_refused_total the refused ones of every
// reason. There is no consecutive_failures label value: an ejection after
// a failed probe carries that reason whatever ejected the endpoint first,
// so the difference of the two counters, not such a series, is the
// ejections by failures in a row and failed probes.
//
// # Series lifetime
//
// An endpoint's series go with it: its gauges when Endpoints no longer lists
// it, its event counters when its EventRemoved arrives (an address added
// again starts from zero, as the pool starts it fresh). A pool's series go
// when a scrape finds that its registry no longer has it (Registry.Delete),
// its counters with them: a pool created again under the name starts from
// zero.
//
// # Throttles
//
// A ThrottleCollector reports the client-side adaptive throttle of an
// lbhttp.Transport (Transport.ThrottleStats) or an lbgrpc.Throttle
// (Throttle.Stats), read through a function at each scrape, so lbprom
// does not import lbgrpc and gRPC stays out of its go.mod. Requests and
// accepts are gauges over the throttle's two-minute window, not counters:
// the throttle sheds while requests exceed K times accepts, so their ratio
// shows how close it is to shedding. Rejections are a counter since the
// throttle started. Each throttle is a collector of its own, registered
// under a distinct name.
//
// # Hedges
//
// A HedgeCollector reports the hedging of an lbhttp.Transport
// (Transport.HedgeStats) or an lbgrpc.Hedger (Hedger.Stats), read through
// a function at each scrape, as a ThrottleCollector is. All three are
// counters since the hedger started. Hedges sent over the requests the
// client made (a count of the caller's own) is the extra load hedging
// costs; won over sent is how often a hedge was worth it; a growing
// refused count says the retry budget, which hedges share with retries,
// is what limits hedging: each hedge delay that passes with the budget
// empty counts one, so a slow request may add several. Each hedger is a
// collector of its own, registered under a distinct name.
//
// # Which pools
//
// A registry collector reports every pool the registry holds at each scrape
// (Registry.All), so a pool created after the collector appears at once;
// WithPools names pools expected to exist and changes nothing else.
package lbprom
